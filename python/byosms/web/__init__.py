"""The gateway's HTTP side: an ASGI app (Starlette) served by hypercorn's trio
worker. Provider webhooks live under ``/vendors/v1/{provider}/{integration}/{kind}``
(D3); ``/healthz`` answers liveness probes.

    integrations = IntegrationRegistry()
    integrations.add(twilio)                      # any byosms.providers.base.Provider
    app = create_app(integrations, on_event=events.append)
    async with trio.open_nursery() as nursery:
        port = await nursery.start(serve_web, app, "0.0.0.0", 8080)
"""

from __future__ import annotations

from byosms.web.app import IntegrationRegistry, create_app, serve_web

__all__ = ["IntegrationRegistry", "create_app", "serve_web"]
