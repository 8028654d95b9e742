"""Matrix (client-server API): /sync long polling, moderation through kick/ban/redact and power levels."""
from .connector import MatrixConnector

__all__ = ["MatrixConnector"]
