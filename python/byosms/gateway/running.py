"""One started integration, as the runtime, its sender and the outcome
recorder share it."""

from __future__ import annotations

from typing import Any

import trio

from byosms.providers.base import ProviderSpec
from byosms.schemas.records import Integration


class RunningIntegration:
    """An integration's provider, the scope that runs it, and the segments
    its sender has handed over."""

    def __init__(self, integration: Integration, spec: ProviderSpec, provider: Any) -> None:
        self.integration = integration
        self.spec = spec
        self.provider = provider
        self.scope = trio.CancelScope()
        self.stopped = trio.Event()
        self.work = trio.Event()
        self.submitted = 0
        #: segment id -> times claimed (store `attempts`), while in the provider.
        self.claims: dict[int, int] = {}
        #: Segments whose submit was cancelled by `stop`: requeued afterwards.
        self.orphans: list[int] = []

    @property
    def id(self) -> str:
        return self.integration.id

    @property
    def provider_segments(self) -> bool:
        """The provider segments: one submit per message, receipts per message."""
        return self.spec.capabilities.segments == "provider"

    def poke(self) -> None:
        self.work.set()
