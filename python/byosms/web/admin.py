"""The admin REST API (PRODUCT.md S9–S12, S16, S17, D4, D5, D7), mounted in the
gateway's ASGI app under /admin/v1. docs/admin-api.md documents it with
examples; /admin/v1/openapi.json is generated from the Structs below.

Access (D4): every request carries `Authorization: Bearer <api key>`; a key
belongs to one business unit and every lookup is scoped to it. Another
unit's integration, number or message answers 404 exactly like a missing
one, so a key can't even learn what exists elsewhere. The one deliberate
exception is N5's "already provisioned elsewhere" at import, which says the
number is taken without saying by whom.

Secrets are write-only: configurations come back with every secret field as
"********" and nothing else in a response is derived from a secret.

Errors are `{"code", "message", "field"?}` with a stable `code`.
"""

from __future__ import annotations

import socket
from collections.abc import Awaitable, Callable
from typing import Any, Literal, get_args

import msgspec
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from byosms.gateway.lifecycle import (
    IntegrationInfo,
    IntegrationLifecycle,
    LifecycleError,
    public_config,
)
from byosms.gateway.numbers import (
    ImportRequest,
    NumberImportError,
    NumberInventory,
    validate_keywords,
)
from byosms.providers.base import CallbackUrls
from byosms.schemas.records import (
    ApiKey,
    EventType,
    IntegrationState,
    Keywords,
    Number,
    NumberType,
    Provider,
)
from byosms.secret import schema_hook

PREFIX = "/admin/v1"
#: Request bodies are small JSON documents; reading stops beyond this.
MAX_BODY = 256 * 1024
#: Events per page of GET /events, and the default.
EVENTS_MAX_LIMIT = 1000
EVENTS_DEFAULT_LIMIT = 100
#: With a `type` filter, rows scanned per request at most (a page of a rare
#: type must not read the whole log); `next_after` lets the client go on.
EVENTS_MAX_SCAN = 10_000
#: S16 fallback: addresses "towards the internet" as the host's routing table
#: picks them, found by connecting a UDP socket (which sends nothing) to
#: documentation addresses (RFC 5737, RFC 3849).
_ROUTE_PROBES = ((socket.AF_INET, "192.0.2.1"), (socket.AF_INET6, "2001:db8::1"))


# --- wire types -------------------------------------------------------------------


class _Out(msgspec.Struct, kw_only=True, omit_defaults=True):
    pass


class ErrorBody(_Out, kw_only=True):
    code: str
    message: str
    field: str | None = None
    number: str | None = None
    reason: str | None = None


class IntegrationOut(_Out, kw_only=True):
    id: str
    name: str
    provider: Provider
    state: IntegrationState
    #: The stored configuration; secret fields read "********" (S9, D4).
    config: dict[str, Any]
    secret_fields: list[str]
    #: D3: where an HTTP provider must send inbound messages and reports.
    callback_urls: CallbackUrls | None = None
    #: S1, S5: legal but doubtful settings.
    warnings: list[str] = []
    created: float
    updated: float
    #: PATCH only: whether the change re-bound it (S9), and what changed.
    restarted: bool | None = None
    changed: list[str] | None = None


class IntegrationList(_Out, kw_only=True):
    integrations: list[IntegrationOut]


class CreateIntegration(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    provider: str
    name: str
    #: The provider's config Struct fields (components: SmppIntegrationConfig, ...
    config: dict[str, Any]
    activate: bool = False


class UpdateIntegration(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    name: str | None = None
    #: A patch: given keys replace stored ones, null restores the default;
    #: omitted secrets are kept.
    config: dict[str, Any] | None = None


class Addresses(_Out, kw_only=True):
    integration: str
    #: "binds": local addresses of connected binds; "host": none is up, these
    #: are the addresses this host's routing table would use.
    source: Literal["binds", "host"]
    addresses: list[str]
    note: str = ""


class NumberOut(_Out, kw_only=True):
    number: str
    type: NumberType
    integration: str
    display_name: str
    #: None: the N3 defaults.
    keywords: Keywords | None = None
    #: The operator's flag.
    enabled: bool
    #: Enabled and its integration active: it sends and receives now (S12).
    usable: bool
    created: float
    updated: float


class NumberList(_Out, kw_only=True):
    numbers: list[NumberOut]


class ImportNumber(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    integration: str
    sender_id: str | None = None
    type: NumberType
    country: str | None = None
    display_name: str = ""
    keywords: Keywords | None = None


class UpdateNumber(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    display_name: str | None = None
    enabled: bool | None = None
    #: Short codes only (N4).
    keywords: Keywords | None = None


class SegmentOut(_Out, kw_only=True):
    index: int
    state: str
    attempts: int
    vendor_message_id: str | None = None
    generic_code: int | None = None
    generic_cause: str | None = None
    vendor_code: int | None = None
    updated: float


class MessageOut(_Out, kw_only=True):
    id: str
    direction: Literal["mt", "mo"]
    integration: str
    source: str
    destination: str
    text: str
    encoding: str
    segment_count: int
    state: str
    generic_code: int | None = None
    generic_cause: str | None = None
    client_ref: str | None = None
    created: float
    updated: float
    segments: list[SegmentOut]


class EventOut(_Out, kw_only=True):
    cursor: int
    type: EventType
    payload: dict[str, Any]
    created: float


class EventList(_Out, kw_only=True):
    events: list[EventOut]
    #: Pass as `after` for the next page.
    next_after: int


class OptOutOut(_Out, kw_only=True):
    sender: str
    recipient: str
    opted_out: bool


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.body = ErrorBody(code=code, message=message, field=field)


# --- N5 errors -> HTTP --------------------------------------------------------------

_IMPORT_STATUS = {
    "provisioning_in_progress": 409,
    "already_provisioned": 409,
    "already_in_inventory": 409,
    "integration_not_found": 404,
    "vendor_unavailable": 502,
}

_encode = msgspec.json.Encoder().encode


def _json(status: int, body: Any) -> Response:
    return Response(_encode(body), status_code=status, media_type="application/json")


def _error(e: Exception) -> Response:
    if isinstance(e, ApiError):
        headers = {"WWW-Authenticate": "Bearer"} if e.status == 401 else None
        r = _json(e.status, e.body)
        if headers:
            r.headers.update(headers)
        return r
    if isinstance(e, LifecycleError):
        return _json(e.status, ErrorBody(code=e.code, message=e.message, field=e.field))
    if isinstance(e, NumberImportError):
        d = e.to_dict()
        return _json(_IMPORT_STATUS.get(e.code, 422),
                     ErrorBody(code=e.code, message=e.message, number=d.get("number"),
                               reason=d.get("reason")))
    raise e


# --- conversions -------------------------------------------------------------------


def _integration_out(info: IntegrationInfo, *, patch: bool = False) -> IntegrationOut:
    i = info.integration
    return IntegrationOut(
        id=i.id, name=i.name, provider=i.provider, state=i.state,
        config=public_config(i), secret_fields=list(i.secret_fields),
        callback_urls=info.callback_urls, warnings=list(info.warnings),
        created=i.created, updated=i.updated,
        restarted=info.restarted if patch else None,
        changed=list(info.changed) if patch else None,
    )


def _number_out(n: Number, states: dict[str, str]) -> NumberOut:
    return NumberOut(
        number=n.number, type=n.type, integration=n.integration, display_name=n.display_name,
        keywords=n.keywords, enabled=n.enabled,
        usable=n.enabled and states.get(n.integration) == "active",
        created=n.created, updated=n.updated,
    )


def host_addresses() -> list[str]:
    """S16 fallback: the source addresses this host would use outbound."""
    out: list[str] = []
    for family, probe in _ROUTE_PROBES:
        try:
            s = socket.socket(family, socket.SOCK_DGRAM)
        except OSError:
            continue
        try:
            s.connect((probe, 9))
            addr = s.getsockname()[0]
        except OSError:
            continue
        finally:
            s.close()
        if addr not in out and addr not in ("0.0.0.0", "::"):
            out.append(addr)
    return out


# --- the API -----------------------------------------------------------------------


class AdminApi:
    """The admin endpoints over a store, the lifecycle and the inventory."""

    def __init__(self, store: Any, lifecycle: IntegrationLifecycle,
                 inventory: NumberInventory | None = None) -> None:
        self.store = store
        self.lifecycle = lifecycle
        self.inventory = inventory or NumberInventory(store)

    # --- plumbing ----------------------------------------------------------------

    async def _auth(self, request: Request) -> ApiKey:
        header = request.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise ApiError(401, "unauthorized", "send Authorization: Bearer <api key>")
        key = await self.store.verify_api_key(token.strip())
        if key is None:
            raise ApiError(401, "unauthorized", "unknown or revoked API key")
        return key

    @staticmethod
    async def _body(request: Request, type_: type) -> Any:
        chunks, size = [], 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > MAX_BODY:
                raise ApiError(413, "too_large", f"request bodies are at most {MAX_BODY} bytes")
            chunks.append(chunk)
        try:
            return msgspec.json.decode(b"".join(chunks), type=type_)
        except msgspec.ValidationError as e:
            text = str(e)
            field = text.rsplit("`$.", 1)[1].rstrip("`") if "`$." in text else None
            raise ApiError(400, "invalid_request", text, field) from None
        except msgspec.DecodeError as e:
            raise ApiError(400, "invalid_json", f"the body is not valid JSON: {e}") from None

    def routes(self) -> list[Route]:
        def wrap(fn: Callable[[Request, ApiKey], Awaitable[Response]]) -> Callable[..., Any]:
            async def endpoint(request: Request) -> Response:
                try:
                    key = await self._auth(request)
                    return await fn(request, key)
                except (ApiError, LifecycleError, NumberImportError) as e:
                    return _error(e)

            return endpoint

        async def openapi(request: Request) -> Response:
            return Response(openapi_json(), media_type="application/json")

        routes = [Route(PREFIX + "/openapi.json", openapi, methods=["GET"])]
        for op in OPERATIONS:
            routes.append(Route(PREFIX + op.path, wrap(getattr(self, op.handler)),
                                methods=[op.method]))
        return routes

    async def _states(self, business_unit: str) -> dict[str, str]:
        return {i.id: i.state for i in await self.store.list_integrations(business_unit)}

    async def _own_number(self, key: ApiKey, number: str) -> Number:
        n = await self.store.get_number(number)
        if n is None or n.business_unit != key.business_unit:
            raise ApiError(404, "number_not_found", f"no number {number!r} in the inventory")
        return n

    # --- integrations --------------------------------------------------------------

    async def list_integrations(self, request: Request, key: ApiKey) -> Response:
        infos = await self.lifecycle.list(key.business_unit)
        return _json(200, IntegrationList(integrations=[_integration_out(i) for i in infos]))

    async def create_integration(self, request: Request, key: ApiKey) -> Response:
        body = await self._body(request, CreateIntegration)
        info = await self.lifecycle.create(key.business_unit, body.provider, body.name,
                                           body.config, activate=body.activate)
        return _json(201, _integration_out(info))

    async def get_integration(self, request: Request, key: ApiKey) -> Response:
        info = await self.lifecycle.get(key.business_unit, request.path_params["id"])
        return _json(200, _integration_out(info))

    async def update_integration(self, request: Request, key: ApiKey) -> Response:
        body = await self._body(request, UpdateIntegration)
        info = await self.lifecycle.update(key.business_unit, request.path_params["id"],
                                           name=body.name, config=body.config)
        return _json(200, _integration_out(info, patch=True))

    async def delete_integration(self, request: Request, key: ApiKey) -> Response:
        info = await self.lifecycle.delete(key.business_unit, request.path_params["id"])
        return _json(200, _integration_out(info))

    async def activate_integration(self, request: Request, key: ApiKey) -> Response:
        info = await self.lifecycle.activate(key.business_unit, request.path_params["id"])
        return _json(200, _integration_out(info))

    async def deactivate_integration(self, request: Request, key: ApiKey) -> Response:
        info = await self.lifecycle.deactivate(key.business_unit, request.path_params["id"])
        return _json(200, _integration_out(info))

    async def integration_addresses(self, request: Request, key: ApiKey) -> Response:
        info = await self.lifecycle.get(key.business_unit, request.path_params["id"])
        iid = info.integration.id
        binds = self.lifecycle.addresses(iid)
        if binds:
            out = Addresses(integration=iid, source="binds", addresses=binds)
        else:
            out = Addresses(
                integration=iid, source="host", addresses=host_addresses(),
                note="no bind is connected: these are the host's outbound addresses; behind "
                "NAT the vendor sees the NAT's public address instead")
        return _json(200, out)

    # --- numbers -------------------------------------------------------------------

    async def list_numbers(self, request: Request, key: ApiKey) -> Response:
        integration = request.query_params.get("integration") or None
        numbers = await self.store.list_numbers(business_unit=key.business_unit,
                                                integration=integration)
        states = await self._states(key.business_unit)
        return _json(200, NumberList(numbers=[_number_out(n, states) for n in numbers]))

    async def import_number(self, request: Request, key: ApiKey) -> Response:
        body = await self._body(request, ImportNumber)
        req = ImportRequest(integration=body.integration, sender_id=body.sender_id or "",
                            type=body.type, country=body.country,
                            display_name=body.display_name, keywords=body.keywords)
        n = await self.inventory.import_number(key.business_unit, req)
        return _json(201, _number_out(n, await self._states(key.business_unit)))

    async def get_number(self, request: Request, key: ApiKey) -> Response:
        n = await self._own_number(key, request.path_params["number"])
        return _json(200, _number_out(n, await self._states(key.business_unit)))

    async def update_number(self, request: Request, key: ApiKey) -> Response:
        n = await self._own_number(key, request.path_params["number"])
        body = await self._body(request, UpdateNumber)
        changes: dict[str, Any] = {}
        if body.display_name is not None:
            name = body.display_name.strip()
            if len(name) > 100:
                raise ApiError(422, "invalid_request", "display name is longer than 100 "
                               "characters", "display_name")
            changes["display_name"] = name
        if body.enabled is not None:
            changes["enabled"] = body.enabled
        if body.keywords is not None:
            changes["keywords"] = validate_keywords(n.type, body.keywords, number=n.number)
        if changes:
            n = await self.store.update_number(msgspec.structs.replace(n, **changes))
        return _json(200, _number_out(n, await self._states(key.business_unit)))

    async def remove_number(self, request: Request, key: ApiKey) -> Response:
        n = await self._own_number(key, request.path_params["number"])
        await self.store.remove_number(n.number)
        return Response(status_code=204)

    # --- messages, events, opt-outs ---------------------------------------------------

    async def get_message(self, request: Request, key: ApiKey) -> Response:
        mid = request.path_params["id"]
        m = await self.store.get_message(mid)
        if m is None or m.business_unit != key.business_unit:
            raise ApiError(404, "message_not_found", f"no message {mid!r}")
        segs = await self.store.get_segments(m.id)
        return _json(200, MessageOut(
            id=m.id, direction=m.direction, integration=m.integration, source=m.source,
            destination=m.destination, text=m.text, encoding=m.encoding,
            segment_count=m.segment_count, state=m.state, generic_code=m.generic_code,
            generic_cause=m.generic_cause, client_ref=m.client_ref, created=m.created,
            updated=m.updated,
            segments=[SegmentOut(index=s.index, state=s.state, attempts=s.attempts,
                                 vendor_message_id=s.vendor_message_id,
                                 generic_code=s.generic_code, generic_cause=s.generic_cause,
                                 vendor_code=s.vendor_code, updated=s.updated)
                      for s in segs]))

    async def list_events(self, request: Request, key: ApiKey) -> Response:
        q = request.query_params
        after = _int_param(q.get("after"), "after", 0, 0, 2**63 - 1)
        limit = _int_param(q.get("limit"), "limit", EVENTS_DEFAULT_LIMIT, 1, EVENTS_MAX_LIMIT)
        type_ = q.get("type") or None
        if type_ is not None and type_ not in get_args(EventType):
            raise ApiError(400, "invalid_request",
                           f"type must be one of {', '.join(get_args(EventType))}", "type")
        out: list[EventOut] = []
        cursor, scanned = after, 0
        while len(out) < limit and scanned < EVENTS_MAX_SCAN:
            page = await self.store.events_after(key.business_unit, cursor,
                                                 limit if type_ is None else EVENTS_MAX_LIMIT)
            if not page:
                break
            for e in page:
                scanned += 1
                cursor = e.cursor
                if type_ is None or e.type == type_:
                    out.append(EventOut(cursor=e.cursor, type=e.type, payload=e.payload,
                                        created=e.created))
                    if len(out) == limit:
                        break
        return _json(200, EventList(events=out, next_after=cursor))

    async def get_opt_out(self, request: Request, key: ApiKey) -> Response:
        sender = (request.query_params.get("sender") or "").strip()
        recipient = (request.query_params.get("recipient") or "").strip()
        if not sender or not recipient:
            raise ApiError(400, "invalid_request", "give sender and recipient",
                           "sender" if not sender else "recipient")
        await self._own_number(key, sender)
        opted = await self.store.is_opted_out(sender, recipient)
        return _json(200, OptOutOut(sender=sender, recipient=recipient, opted_out=opted))


def _int_param(raw: str | None, name: str, default: int, lo: int, hi: int) -> int:
    if raw is None or raw == "":
        return default
    try:
        v = int(raw)
    except ValueError:
        raise ApiError(400, "invalid_request", f"{name} must be an integer", name) from None
    if not lo <= v <= hi:
        raise ApiError(400, "invalid_request", f"{name} must be in {lo}..{hi}", name)
    return v


# --- the route table and the OpenAPI document --------------------------------------------


class Operation(msgspec.Struct, frozen=True):
    method: str
    path: str
    handler: str
    summary: str
    request: Any = None
    response: Any = None
    status: int = 200
    query: tuple[tuple[str, str, str], ...] = ()  # (name, JSON type, description)


OPERATIONS: tuple[Operation, ...] = (
    Operation("GET", "/integrations", "list_integrations", "List the unit's integrations (D7)",
              response=IntegrationList),
    Operation("POST", "/integrations", "create_integration",
              "Create an integration (validated; callback URLs D3, warnings S5)",
              CreateIntegration, IntegrationOut, 201),
    Operation("GET", "/integrations/{id}", "get_integration", "One integration",
              response=IntegrationOut),
    Operation("PATCH", "/integrations/{id}", "update_integration",
              "Rename or change the config; an active integration re-binds (S9)",
              UpdateIntegration, IntegrationOut),
    Operation("DELETE", "/integrations/{id}", "delete_integration",
              "Delete: binds closed, numbers removed, queued messages failed (S12)",
              response=IntegrationOut),
    Operation("POST", "/integrations/{id}/activate", "activate_integration",
              "Activate: binds established; failures arrive as operational events (S10)",
              response=IntegrationOut),
    Operation("POST", "/integrations/{id}/deactivate", "deactivate_integration",
              "Deactivate: numbers disabled, binds closed, messages held queued (S12)",
              response=IntegrationOut),
    Operation("GET", "/integrations/{id}/addresses", "integration_addresses",
              "Addresses the binds originate from, for the vendor's allow-list (S16)",
              response=Addresses),
    Operation("GET", "/numbers", "list_numbers", "List the unit's numbers (D5)",
              response=NumberList,
              query=(("integration", "string", "only this integration's numbers"),)),
    Operation("POST", "/numbers", "import_number", "Import one number (N1–N5)",
              ImportNumber, NumberOut, 201),
    Operation("GET", "/numbers/{number}", "get_number", "One number", response=NumberOut),
    Operation("PATCH", "/numbers/{number}", "update_number",
              "Change display name, enabled flag, short-code keywords", UpdateNumber, NumberOut),
    Operation("DELETE", "/numbers/{number}", "remove_number",
              "Remove a number from the inventory", status=204),
    Operation("GET", "/messages/{id}", "get_message", "A message and its segments",
              response=MessageOut),
    Operation("GET", "/events", "list_events", "Events of the unit after a cursor (S17)",
              response=EventList,
              query=(("after", "integer", "cursor to start after (default 0)"),
                     ("limit", "integer", f"at most this many (1..{EVENTS_MAX_LIMIT})"),
                     ("type", "string", "status, inbound, operational or keyword"))),
    Operation("GET", "/opt-outs", "get_opt_out",
              "Whether a recipient opted out of a sender of the unit (S15)",
              response=OptOutOut,
              query=(("sender", "string", "a number of the unit"),
                     ("recipient", "string", "E.164 recipient"))),
)


_openapi_cache: bytes | None = None


def openapi_document() -> dict[str, Any]:
    """OpenAPI 3.1, generated from the wire Structs and the route table."""
    from byosms.providers import registry

    # Each provider's config Struct, from the registry (plug-ins included):
    # `CreateIntegration.config` is one of them, by `provider`.
    configs = {spec.config_type for spec in registry.specs()
               if isinstance(spec.config_type, type) and issubclass(spec.config_type, msgspec.Struct)}
    types = sorted({t for op in OPERATIONS for t in (op.request, op.response) if t}
                   | {ErrorBody} | configs, key=lambda t: t.__name__)
    _, components = msgspec.json.schema_components(
        types, ref_template="#/components/schemas/{name}", schema_hook=schema_hook)
    ref = "#/components/schemas/{}".format
    error = {"description": "error", "content": {"application/json": {
        "schema": {"$ref": ref("ErrorBody")}}}}
    paths: dict[str, dict[str, Any]] = {}
    for op in OPERATIONS:
        params = [{"name": p, "in": "path", "required": True, "schema": {"type": "string"}}
                  for p in ("id", "number") if "{" + p + "}" in op.path]
        params += [{"name": n, "in": "query", "required": op.handler == "get_opt_out",
                    "description": d, "schema": {"type": t}} for n, t, d in op.query]
        ok: dict[str, Any] = {"description": "success"}
        if op.response is not None:
            ok["content"] = {"application/json": {"schema": {"$ref": ref(op.response.__name__)}}}
        entry: dict[str, Any] = {
            "operationId": op.handler,
            "summary": op.summary,
            "security": [{"apiKey": []}],
            "responses": {str(op.status): ok, "400": error, "401": error, "404": error,
                          "409": error, "422": error},
        }
        if params:
            entry["parameters"] = params
        if op.request is not None:
            entry["requestBody"] = {"required": True, "content": {"application/json": {
                "schema": {"$ref": ref(op.request.__name__)}}}}
        paths.setdefault(PREFIX + op.path, {})[op.method.lower()] = entry
    paths[PREFIX + "/openapi.json"] = {"get": {
        "operationId": "openapi", "summary": "This document",
        "responses": {"200": {"description": "OpenAPI 3.1 document"}}}}
    return {
        "openapi": "3.1.0",
        "info": {"title": "byosms admin API", "version": "1"},
        "paths": paths,
        "components": {
            "schemas": components,
            "securitySchemes": {"apiKey": {"type": "http", "scheme": "bearer",
                                           "description": "an API key of the business unit"}},
        },
    }


def openapi_json() -> bytes:
    global _openapi_cache
    if _openapi_cache is None:
        _openapi_cache = msgspec.json.encode(openapi_document())
    return _openapi_cache


__all__ = ["AdminApi", "OPERATIONS", "PREFIX", "host_addresses", "openapi_document"]
