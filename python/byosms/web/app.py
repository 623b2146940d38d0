"""ASGI app for provider webhooks, and serving it on trio with hypercorn."""

from __future__ import annotations

import urllib.parse
from collections.abc import Callable
from typing import Any, Protocol

import trio
from hypercorn.config import Config
from hypercorn.trio import serve
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from byosms.pipeline import WebhookRequest
from byosms.providers.base import Provider
from byosms.schemas.events import OperationalEvent

#: Webhook bodies are small (PROVIDERS.md); reading stops beyond this so a
#: client can't make us buffer without bound.
MAX_BODY = 256 * 1024


class WebhookTargets(Protocol):
    """Who answers ``/vendors/v1/{provider}/{integration}/{kind}``: the
    provider instance of that integration (an inactive one answers 2xx and
    drops, T4), or None (404). The gateway's runtime implements it."""

    async def webhook_target(self, provider: str, integration_id: str) -> Provider | None: ...


class IntegrationRegistry:
    """A fixed set of provider instances by (provider name, integration id):
    ``WebhookTargets`` for tests and embedders that run adapters themselves."""

    def __init__(self) -> None:
        self._by_key: dict[tuple[str, str], Provider] = {}

    def add(self, integration: Provider) -> None:
        self._by_key[(integration.provider_name, integration.integration_id)] = integration

    def remove(self, provider: str, integration_id: str) -> None:
        self._by_key.pop((provider, integration_id), None)

    def get(self, provider: str, integration_id: str) -> Provider | None:
        return self._by_key.get((provider, integration_id))

    async def webhook_target(self, provider: str, integration_id: str) -> Provider | None:
        return self.get(provider, integration_id)


async def _read_body(request: Request) -> bytes | None:
    chunks = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


def create_app(
    integrations: WebhookTargets,
    *,
    on_event: Callable[[OperationalEvent], Any] | None = None,
    admin: Any = None,
) -> Starlette:
    """The gateway's ASGI app. ``on_event`` hears about webhooks whose
    handler failed (the integration itself reports bad signatures and
    drops to its own ``on_event``). ``admin`` (a ``byosms.web.admin.AdminApi``)
    adds the admin REST API under /admin/v1."""

    async def healthz(request: Request) -> Response:
        return PlainTextResponse("ok")

    async def vendor_webhook(request: Request) -> Response:
        provider = request.path_params["provider"]
        integration_id = request.path_params["integration"]
        kind = request.path_params["kind"]
        integration = await integrations.webhook_target(provider, integration_id)
        if integration is None:
            return PlainTextResponse("no such integration", status_code=404)
        body = await _read_body(request)
        if body is None:
            return PlainTextResponse("too large", status_code=413)
        # The URL as the provider called it: the integration's public base
        # URL (proxies rewrite Host and scheme) + the raw path and query.
        base = getattr(getattr(integration, "config", None), "public_base_url", None)
        raw_path = request.scope.get("raw_path") or request.url.path.encode()
        path = raw_path.decode("latin-1")
        query = request.scope.get("query_string", b"").decode("latin-1")
        if base:
            # A path prefix in the base URL is the proxy's, stripped before us.
            url = base.rstrip("/") + path
        else:
            url = str(request.url.replace(query=None))
        if query:
            url += "?" + query
        webhook = WebhookRequest(
            kind=kind,
            method=request.method,
            url=url,
            headers={k.lower(): v for k, v in request.headers.items()},
            body=body,
            content_type=request.headers.get("content-type", ""),
            remote_addr=request.client.host if request.client else None,
        )
        try:
            answer = await integration.handle_webhook(webhook)
        except Exception as e:  # one bad webhook must not hurt the others
            if on_event is not None:
                on_event(
                    OperationalEvent(
                        kind="protocol_error",
                        integration=integration_id,
                        cause="other",
                        detail=f"{provider} {kind} webhook failed: {e!r}",
                    )
                )
            return PlainTextResponse("error", status_code=500)
        return Response(answer.body, status_code=answer.status, media_type=answer.content_type)

    routes = [
        Route("/healthz", healthz, methods=["GET"]),
        Route(
            "/vendors/v1/{provider}/{integration}/{kind}",
            vendor_webhook,
            methods=["GET", "POST"],
        ),
    ]
    if admin is not None:
        routes += admin.routes()
    return Starlette(routes=routes)


async def serve_web(
    app: Any,
    host: str = "127.0.0.1",
    port: int = 0,
    *,
    task_status: Any = trio.TASK_STATUS_IGNORED,
) -> None:
    """Serve ``app`` with hypercorn's trio worker until cancelled. Started
    with ``await nursery.start(serve_web, app, host, port)``, which returns
    the bound port (useful with ``port=0``)."""
    config = Config()
    config.bind = [f"[{host}]:{port}" if ":" in host else f"{host}:{port}"]
    config.accesslog = None
    config.errorlog = None
    config.graceful_timeout = 0.5

    class _Started:
        def started(self, binds: list[str] | None = None) -> None:
            bound = urllib.parse.urlsplit((binds or [""])[0]).port
            task_status.started(bound if bound is not None else port)

    await serve(app, config, task_status=_Started())  # type: ignore[arg-type]
