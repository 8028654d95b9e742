"""Telegram groups through a bot (Bot API ``getUpdates`` long polling)."""
from .connector import TelegramConnector

__all__ = ["TelegramConnector"]
