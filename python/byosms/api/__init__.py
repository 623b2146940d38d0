"""The websocket API applications use (docs/websocket-api.md)."""

from byosms.api.server import ApiLimits, ApiServer, event_messages, open_api_server

__all__ = ["ApiLimits", "ApiServer", "event_messages", "open_api_server"]
