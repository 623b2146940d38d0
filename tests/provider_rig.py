"""A provider adapter under test against its fake over real loopback HTTP:
the gateway's own web app routes the fake's callbacks to the adapter, and
what the adapter reports is collected. Shared by the HTTP providers' tests."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import asynccontextmanager
from typing import Any

import trio

from byosms.pipeline import DeliveryReceipt, InboundMessage, SubmitResult
from byosms.providers import registry
from byosms.web import IntegrationRegistry, create_app, serve_web


class ProviderRig:
    def __init__(self, fake: Any, port: int, reg: IntegrationRegistry, nursery: trio.Nursery,
                 provider: str, integration_id: str,
                 base_config: Callable[[Any, str], dict[str, Any]]) -> None:
        self.fake, self.port, self.registry, self.nursery = fake, port, reg, nursery
        self.provider, self.integration_id = provider, integration_id
        self._base_config = base_config
        self.results: list[SubmitResult] = []
        self.receipts: list[DeliveryReceipt] = []
        self.inbound: list[InboundMessage] = []
        self.events: list = []

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def url(self, kind: str) -> str:
        return f"{self.base}/vendors/v1/{self.provider}/{self.integration_id}/{kind}"

    async def integration(self, **cfg: Any) -> Any:
        """The adapter, built as the gateway builds it, running, routed."""
        spec = registry.spec(self.provider)
        config = spec.decode_config({**self._base_config(self.fake, self.base),
                                     "backoff": 0.01, "max_backoff": 0.05, **cfg})
        integ = spec.build(config, integration_id=self.integration_id, callbacks={
            "on_event": self.events.append, "on_submit_result": self.results.append,
            "on_receipt": self.receipts.append, "on_mo": self.inbound.append})
        await self.nursery.start(integ.run)
        self.registry.add(integ)
        return integ


@asynccontextmanager
async def provider_rig(fake_cls: Any, provider: str, integration_id: str,
                       base_config: Callable[[Any, str], dict[str, Any]], **fake_kw: Any):
    async with fake_cls(**fake_kw) as fake, trio.open_nursery() as nursery:
        reg = IntegrationRegistry()
        port = await nursery.start(serve_web, create_app(reg), "127.0.0.1", 0)
        yield ProviderRig(fake, port, reg, nursery, provider, integration_id, base_config)
        nursery.cancel_scope.cancel()
