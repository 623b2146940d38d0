"""An in-memory `IntegrationRuntime` (byosms.gateway.lifecycle) for tests:
it records what the lifecycle asked and runs nothing."""

from __future__ import annotations


class FakeRuntime:
    """`running` is the set of started integrations; `calls` every call in
    order as (operation, integration id). `fail_start` makes `start` raise
    (a runtime that cannot even try, e.g. an unknown provider); `addresses`
    is what `bind_addresses` answers per integration (empty: no bind up)."""

    def __init__(self) -> None:
        self.running: set[str] = set()
        self.calls: list[tuple[str, str]] = []
        self.fail_start: Exception | None = None
        self.addresses: dict[str, list[str]] = {}

    async def start(self, integration_id: str) -> None:
        self.calls.append(("start", integration_id))
        if self.fail_start is not None:
            raise self.fail_start
        self.running.add(integration_id)

    async def stop(self, integration_id: str) -> None:
        self.calls.append(("stop", integration_id))
        self.running.discard(integration_id)

    async def restart(self, integration_id: str) -> None:
        self.calls.append(("restart", integration_id))
        self.running.add(integration_id)

    def bind_addresses(self, integration_id: str) -> list[str]:
        if integration_id not in self.running:
            return []
        return list(self.addresses.get(integration_id, ()))

    def ops(self, integration_id: str) -> list[str]:
        return [op for op, i in self.calls if i == integration_id]
