"""A deterministic simulated fleet of chat groups: the default when there is no config."""
from .connector import DemoConnector
from .world import DEMO_EPOCH

__all__ = ["DemoConnector", "DEMO_EPOCH"]
