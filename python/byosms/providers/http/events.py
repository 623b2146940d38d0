"""Operational events (S17) of one integration, as the kit's parts emit them."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from byosms.schemas.events import Cause, EventKind, OperationalEvent

__all__ = ["EventSink"]


class EventSink:
    """``sink(kind, cause, detail, code)``: one OperationalEvent for the
    integration, or nothing when the owner did not ask for events. The
    client, the webhook skeleton and the adapter share one sink so every
    event of an integration names it the same way."""

    __slots__ = ("integration_id", "_on_event")

    def __init__(self, integration_id: str, on_event: Callable[[OperationalEvent], Any] | None) -> None:
        self.integration_id = integration_id
        self._on_event = on_event

    def __call__(self, kind: EventKind, cause: Cause | None = None, detail: str = "", code: int | None = None) -> None:
        if self._on_event is None:
            return
        self._on_event(
            OperationalEvent(
                kind=kind, integration=self.integration_id, cause=cause, command_status=code, detail=detail
            )
        )
