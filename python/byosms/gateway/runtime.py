"""The integration runtime: builds each integration's provider from the
registry and runs it with its sender; the `IntegrationRuntime` the admin
lifecycle drives (start / stop / restart / bind_addresses), and the webhook
targets of the web app.

Webhooks (D3, T4): a running integration's provider answers its own; a
deactivated one still gets a provider instance, built from its stored
configuration but never run (``active`` False), so its webhooks are
authenticated, answered 2xx and counted as ``webhook_dropped`` instead of
getting 404 and being retried; a deleted or unknown one is 404.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import Any

import trio

from byosms.advanced_config import GenericErrorCode
from byosms.gateway.events import OperationalEvents
from byosms.gateway.expiry import expire_receipts
from byosms.gateway.inbound import InboundHandler
from byosms.gateway.lifecycle import RuntimeFailed, _plain, provider_spec
from byosms.gateway.outcomes import Outcomes
from byosms.gateway.running import RunningIntegration
from byosms.gateway.sender import Sender
from byosms.pipeline import InboundMessage, SubmittedSegment
from byosms.providers.base import ConfigInvalid, ProviderRuntime
from byosms.schemas.records import Integration, SubmitError, SubmitOutcome

log = logging.getLogger("byosms.gateway")

#: Idle provider instances kept for deactivated integrations' webhooks.
MAX_PARKED = 1000


class IntegrationRunner:
    """Runs integrations under ``nursery`` (the gateway's)."""

    def __init__(self, store: Any, *, nursery: trio.Nursery, events: OperationalEvents,
                 outcomes: Outcomes, inbound: InboundHandler,
                 provider_runtime: ProviderRuntime | None = None,
                 on_started: Callable[[Integration], None] | None = None) -> None:
        self._store = store
        self._nursery = nursery
        self._events = events
        self._outcomes = outcomes
        self._inbound = inbound
        self._provider_runtime = provider_runtime or ProviderRuntime()
        self._on_started = on_started
        self.running: dict[str, RunningIntegration] = {}
        #: (integration id, updated) -> an idle provider answering webhooks.
        self._parked: dict[tuple[str, float], Any] = {}

    def get(self, integration_id: str) -> RunningIntegration | None:
        return self.running.get(integration_id)

    def poke(self, integrations: set[str]) -> None:
        for iid in integrations:
            running = self.running.get(iid)
            if running is not None:
                running.poke()

    # --- IntegrationRuntime ---------------------------------------------------------

    async def start(self, integration_id: str) -> None:
        if integration_id in self.running:
            return
        integ = await self._store.get_integration(integration_id)
        if integ is None or integ.state != "active":
            return
        if self._on_started is not None:
            self._on_started(integ)
        spec = provider_spec(integ.provider)
        provider = await self._build(integ, active=True)
        running = RunningIntegration(integ, spec, provider)
        if spec.capabilities.correlates_receipts:
            await self._relearn(running)
        self.running[integration_id] = running
        await self._nursery.start(self._run, running)

    async def stop(self, integration_id: str) -> None:
        running = self.running.pop(integration_id, None)
        if running is None:
            return
        running.provider.active = False
        running.scope.cancel()
        await running.stopped.wait()
        if running.orphans:
            # In flight when stopped: back to the queue now, not at the next
            # process start (the provider may have taken some: at-least-once).
            outcomes = [SubmitOutcome(segment_id=i, error=SubmitError(
                permanent=False, generic_code=int(GenericErrorCode.RETRYABLE_FAILURE),
                generic_cause="INTEGRATION_STOPPED")) for i in running.orphans]
            with trio.CancelScope(shield=True):
                await self._store.record_submits(outcomes)  # per-item Conflict: already done

    async def restart(self, integration_id: str) -> None:
        await self.stop(integration_id)
        await self.start(integration_id)

    def bind_addresses(self, integration_id: str) -> list[str]:
        """S16: the local addresses the provider's connections use."""
        running = self.running.get(integration_id)
        fn = getattr(running.provider, "bind_addresses", None) if running is not None else None
        return list(fn()) if fn is not None else []

    def provider(self, integration_id: str) -> Any:
        running = self.running.get(integration_id)
        return None if running is None else running.provider

    async def check_number(self, integration: Integration, number: str) -> Any:
        """N5 / T3: the provider's import check, or None when its provider
        has none. A stopped integration is asked through an idle instance."""
        if not provider_spec(integration.provider).capabilities.number_check:
            return None
        running = self.running.get(integration.id)
        provider = running.provider if running is not None else \
            await self._idle(integration)
        return await provider.check_number(number)

    # --- webhooks ---------------------------------------------------------------------

    async def webhook_target(self, provider: str, integration_id: str) -> Any:
        """Who answers ``/vendors/v1/{provider}/{integration_id}/...``."""
        running = self.running.get(integration_id)
        if running is not None:
            return running.provider if running.integration.provider == provider else None
        integ = await self._store.get_integration(integration_id)
        if integ is None or integ.state == "deleted" or integ.provider != provider:
            return None
        try:
            return await self._idle(integ)
        except (RuntimeFailed, ConfigInvalid) as e:
            log.warning("integration %s cannot answer webhooks: %s", integration_id, e)
            return None

    async def _idle(self, integ: Integration) -> Any:
        key = (integ.id, integ.updated)
        p = self._parked.get(key)
        if p is None:
            if len(self._parked) >= MAX_PARKED:
                self._parked.clear()
            p = self._parked[key] = await self._build(integ, active=False)
        return p

    # --- running ----------------------------------------------------------------------

    async def _build(self, integ: Integration, *, active: bool) -> Any:
        spec = provider_spec(integ.provider)
        secrets = await self._store.reveal_secrets(integ.id)
        try:
            config = spec.decode_config(_plain({**integ.config, **secrets}))
            callbacks = {
                "on_event": self._events.emit,
                "on_mo": functools.partial(self._on_mo, integ.id),
                **self._outcomes.callbacks(integ.id),
            }
            provider = spec.build(config, integration_id=integ.id, callbacks=callbacks,
                                  runtime=self._provider_runtime)
        except ConfigInvalid as e:
            raise RuntimeFailed(f"integration {integ.id}: stored configuration refused: {e}"
                                ) from None
        provider.active = active
        return provider

    async def _run(self, running: RunningIntegration, *,
                   task_status: Any = trio.TASK_STATUS_IGNORED) -> None:
        provider = running.provider
        try:
            with running.scope:
                async with trio.open_nursery() as nursery:
                    await nursery.start(provider.run)
                    nursery.start_soon(Sender(running, self._store, self._outcomes,
                                              self._events).run)
                    nursery.start_soon(expire_receipts, running, self._store, self._events)
                    task_status.started()
        finally:
            running.stopped.set()
            if self.running.get(running.id) is running:
                del self.running[running.id]

    async def _relearn(self, running: RunningIntegration) -> None:
        """Segments a previous run submitted still await receipts: a provider
        that correlates receipts in memory must know them before it starts."""
        items = [SubmittedSegment(message_id=seg.message_id, segment_id=str(seg.id),
                                  segment_index=seg.index + 1, segment_count=count,
                                  vendor_message_id=seg.vendor_message_id or "")
                 for seg, count in await self._store.submitted_segments(running.id)]
        running.provider.register_submitted(items)

    async def _on_mo(self, iid: str, m: InboundMessage) -> None:
        running = self.running.get(iid)
        provider = running.provider if running is not None else None
        await self._inbound.handle(iid, m, provider_replies=_answers_keywords(running, provider))


def _answers_keywords(running: RunningIntegration | None, provider: Any) -> bool:
    """Whether the provider answers HELP/STOP/START itself for this
    integration: its own say (configuration) over its capability."""
    if running is None:
        return False
    own = getattr(provider, "answers_keywords", None)
    if own is None:
        choice = getattr(getattr(provider, "config", None), "keyword_replies", None)
        own = None if choice is None else choice == "provider"
    return bool(own) if own is not None else running.spec.capabilities.answers_keywords
