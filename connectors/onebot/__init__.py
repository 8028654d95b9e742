"""QQ groups through OneBot v11 (NapCat, Lagrange, LLOneBot): events from the forward
WebSocket, actions through the HTTP API."""
from .connector import OneBotConnector

__all__ = ["OneBotConnector"]
