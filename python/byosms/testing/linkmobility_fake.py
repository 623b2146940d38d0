"""A fake LINK Mobility (MyLINK SMS API) for tests, benches and users' own tests.

It serves the shapes of spec/PROVIDERS-HTTP.md ("LINK Mobility", A) over real
HTTP on loopback: the SSO token endpoint (client credentials, expiring
tokens), the send endpoint (202 ``{requestId, messages}``), and, like LINK,
calls back: delivery reports to the message's ``callback.urls`` (or
``dlr_url`` for ``"Profile"`` callbacks) and inbound messages on request,
every callback with the custom header set "in the portal"
(``webhook_header`` / ``webhook_header_value``).

    async with LinkMobilityFake() as fake:
        config = {..., "token_url": fake.token_url, "api_base": fake.base_url,
                  "client_id": fake.client_id, "client_secret": fake.client_secret,
                  "webhook_header_value": fake.webhook_header_value}
        fake.outcome("+4712345678", [1001, 2000])        # status codes in order
        fake.outcome("+4712345679", [1001, 4007])
        fake.fail_next(2, http_status=429)               # throttled
        fake.reject("+4712345670")                       # 400 {requestId, message}
        fake.expire_tokens()                             # next send: 401
        await fake.wait_idle()                           # every report answered
        await fake.send_inbound(url, "+4712345678", "+4790000000", "STOP")

``out_of_order`` and ``duplicate_reports`` exercise the gateway's ordering.

The legacy Common platform is served too: ``POST {common_base}/send`` with
Basic credentials (``username`` / ``password``), 200 ``{messageId,
resultCode: 1005, description: "Queued"}``, its DLRs (``resultCode``) posted
to ``gate_url`` when the send names a gate, and ``send_common_inbound``.
Outcome codes are then Common result codes (default [1000, 1001]).
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import os
import time
import urllib.parse
import uuid
from collections.abc import Sequence
from typing import Any

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from byosms.testing.http_fake import HttpFake

__all__ = ["LinkMobilityFake", "STATUS_TYPES", "TOKEN_PATH", "status_type"]

TOKEN_PATH = "/auth/realms/CPaaS/protocol/openid-connect/token"
SEND_PATH = "/sms/v1/messages"
COMMON_SEND_PATH = "/sms/send"


def status_type(code: int) -> str:
    """status.type of a status code (the OpenAPI DeliveryStatus table)."""
    if code in STATUS_TYPES:
        return STATUS_TYPES[code]
    return "rejected" if 3000 <= code < 4000 else "failed" if 4000 <= code < 5000 else "queued"


STATUS_TYPES: dict[int, str] = {1: "accepted", 2: "accepted", 1000: "queued", 1001: "sent",
                                5000: "retried", 2000: "delivered"}


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def _segments(text: str) -> int:
    gsm = all(ord(c) < 128 for c in text)
    single, multi = (160, 153) if gsm else (70, 67)
    return 1 if len(text) <= single else -(-len(text) // multi)


class LinkMobilityFake(HttpFake):
    """See the module docstring."""

    def __init__(self, *, client_id: str | None = None, client_secret: str | None = None,
                 host: str = "127.0.0.1", auto_reports: bool = True, token_ttl: float = 300.0,
                 webhook_header: str = "X-Webhook-Token",
                 webhook_header_value: str | None = None, dlr_url: str | None = None,
                 gate_url: str | None = None) -> None:
        super().__init__()
        self.username = "user-" + os.urandom(4).hex()
        self.password = os.urandom(12).hex()
        self.platform_id = "COMMON-API"
        self.platform_partner_id = str(int.from_bytes(os.urandom(3), "big"))
        self.gate_id = "gate-" + os.urandom(3).hex()
        #: Where the Common platform's DLR gate posts (set up by LINK Support).
        self.gate_url = gate_url
        self.host = host
        self.client_id = client_id or "client-" + os.urandom(4).hex()
        self.client_secret = client_secret or os.urandom(16).hex()
        self.auto_reports = auto_reports
        self.token_ttl = token_ttl
        self.webhook_header = webhook_header
        self.webhook_header_value = webhook_header_value or os.urandom(12).hex()
        #: Where "Profile" callbacks go (the portal's callback URL).
        self.dlr_url = dlr_url
        self.out_of_order = False
        self.duplicate_reports = False
        #: token -> wall-clock expiry.
        self.tokens: dict[str, float] = {}
        #: every token request (form fields).
        self.token_requests: list[dict[str, str]] = []
        #: messageId -> the message as sent.
        self.messages: dict[str, dict[str, Any]] = {}
        #: (method, path, JSON body or None, Authorization) of every send request.
        self.requests: list[tuple[str, str, Any, str]] = []
        #: (url, body, our answer's status or None) of every report sent.
        self.reports: list[tuple[str, dict[str, Any], int | None]] = []
        self._outcomes: dict[str, list[int]] = {}
        self._rejects: dict[str, int] = {}
        self._failures: list[tuple[int, str | None]] = []
        self._token_failures: list[int] = []
        self.app = Starlette(routes=[Route(TOKEN_PATH, self._token, methods=["POST"]),
                                     Route(SEND_PATH, self._send, methods=["POST"]),
                                     Route(COMMON_SEND_PATH, self._send_common,
                                           methods=["POST"])])

    @property
    def token_url(self) -> str:
        return self.base_url + TOKEN_PATH

    @property
    def common_base(self) -> str:
        """The Common platform's per-account base (…/sms)."""
        return self.base_url + "/sms"

    # --- behaviour --------------------------------------------------------------

    def outcome(self, to: str, codes: Sequence[int]) -> None:
        """The status codes reported for messages to ``to`` (default [1001, 2000])."""
        self._outcomes[to] = list(codes)

    def reject(self, to: str, *, http_status: int = 400) -> None:
        """Answer sends to ``to`` with ``{requestId, message}``."""
        self._rejects[to] = http_status

    def fail_next(self, n: int = 1, *, http_status: int = 429,
                  retry_after: str | None = None) -> None:
        """The next ``n`` sends fail so (429 by default; 401, 403, 5xx too)."""
        self._failures.extend([(http_status, retry_after)] * n)

    def fail_token(self, n: int = 1, *, http_status: int = 401) -> None:
        """The next ``n`` token requests fail so."""
        self._token_failures.extend([http_status] * n)

    def expire_tokens(self) -> None:
        """Every token issued so far is refused from now on (401)."""
        self.tokens.clear()

    # --- outgoing callbacks ------------------------------------------------------

    async def post_webhook(self, url: str, doc: dict[str, Any], *,
                           headers: dict[str, str] | None = None) -> httpx.Response:
        """POST ``doc`` as LINK does (JSON) with the portal's custom header."""
        assert self._client is not None, "the fake is not running"
        h = {"Content-Type": "application/json",
             self.webhook_header: self.webhook_header_value, **(headers or {})}
        return await self._client.post(url, content=json.dumps(doc).encode(), headers=h)

    def report_body(self, message_id: str, code: int) -> dict[str, Any]:
        """A DeliveryReportWebHook of one message."""
        m = self.messages[message_id]
        return {
            "eventId": str(uuid.uuid4()), "channel": "sms", "recipient": m["recipient"],
            "timeStamp": _now(),
            "status": {"requestId": m["requestId"], "referenceId": m.get("referenceId"),
                       "messageId": message_id, "type": status_type(code), "code": code,
                       "details": status_type(code), "segments": m["segments"]},
            "provider": {"timestamp": _now(), "code": "0" if code == 2000 else str(code % 100),
                         "details": "fake", "operator": "no.telenor"},
        }

    async def deliver(self, message_id: str, code: int) -> httpx.Response:
        """Send one delivery report for ``message_id`` now; our answer."""
        url = self.messages[message_id]["reportUrl"]
        doc = (self.common_report_body(message_id, code) if self.messages[message_id].get("common")
               else self.report_body(message_id, code))
        try:
            response = await self.post_webhook(url, doc)
        except httpx.HTTPError:
            self.reports.append((url, doc, None))
            raise
        self.reports.append((url, doc, response.status_code))
        return response

    def inbound_body(self, from_: str, to: str, text: str, *,
                     event_id: str | None = None) -> dict[str, Any]:
        """A MobileOriginatedWebHook: ``reply.sender`` the phone, ``recipient``
        our number (both filled: which is which is UNCONFIRMED)."""
        words = text.split()
        return {
            "eventId": event_id or str(uuid.uuid4()), "channel": "sms", "recipient": to,
            "timeStamp": _now(),
            "provider": {"timestamp": _now(), "code": "0", "details": "", "operator": "no.telenor"},
            "reply": {"sender": from_, "routeId": "route-1",
                      "routeKeyword": words[0].upper() if words else "", "text": text},
        }

    async def send_inbound(self, url: str, from_: str, to: str, text: str, *,
                           event_id: str | None = None,
                           headers: dict[str, str] | None = None) -> httpx.Response:
        return await self.post_webhook(url, self.inbound_body(from_, to, text, event_id=event_id),
                                       headers=headers)

    def common_report_body(self, message_id: str, code: int) -> dict[str, Any]:
        """A Common platform DLR of one message."""
        m = self.messages[message_id]
        return {"refId": m.get("referenceId"), "id": message_id, "operator": "no.telenor",
                "sentTimestamp": _now(), "timestamp": _now(), "resultCode": code,
                "operatorResultCode": "0", "segments": m["segments"],
                "gateCustomParameters": {}, "customParameters": {}}

    def common_inbound_body(self, from_: str, to: str, text: str, *,
                            message_id: str | None = None) -> dict[str, Any]:
        """A Common platform MO (the route trimmed to the fields we read)."""
        words = text.split()
        return {"destination": to, "subNumber": None, "source": from_,
                "content": {"type": "SMS", "userData": text, "encoding": "TEXT"},
                "operator": "no.telenor", "timestamp": _now(),
                "messageId": message_id or os.urandom(12).hex(), "operatorTimestamp": _now(),
                "route": {"type": "KEYWORD_ROUTE", "keyword": words[0].upper() if words else "",
                          "number": to, "active": True},
                "gateCustomParameters": {}, "customParameters": {}}

    async def send_common_inbound(self, url: str, from_: str, to: str, text: str, *,
                                  message_id: str | None = None,
                                  headers: dict[str, str] | None = None) -> httpx.Response:
        return await self.post_webhook(
            url, self.common_inbound_body(from_, to, text, message_id=message_id),
            headers=headers)

    async def _reports(self, message_id: str, codes: list[int]) -> None:
        plan = list(reversed(codes)) if self.out_of_order else list(codes)
        if self.duplicate_reports:
            plan = [c for c in plan for _ in (0, 1)]
        for code in plan:
            try:
                await self.deliver(message_id, code)
            except httpx.HTTPError:
                pass

    async def _send_common(self, request: Request) -> Response:
        try:
            doc = json.loads(await request.body())
        except ValueError:
            doc = None
        auth = request.headers.get("authorization", "")
        self.requests.append((request.method, request.url.path, doc, auth))
        expected = "Basic " + base64.b64encode(f"{self.username}:{self.password}".encode()).decode()
        if auth != expected:
            return JSONResponse({"status": 106100, "description": "Invalid authentication",
                                 "translatedDescription": None}, status_code=401)
        if self._failures:
            status, retry_after = self._failures.pop(0)
            r: Response = JSONResponse({"status": 106000, "description": "Unknown error",
                                        "translatedDescription": None}, status_code=status)
            if retry_after is not None:
                r.headers["Retry-After"] = retry_after
            return r
        if not isinstance(doc, dict) or not doc.get("source") or not doc.get("userData") \
                or not str(doc.get("destination") or "").startswith("+"):
            return JSONResponse({"status": 106000, "description": "Invalid request",
                                 "translatedDescription": None}, status_code=400)
        if doc.get("platformId") != self.platform_id:
            return JSONResponse({"status": 106200, "description": "Invalid platformId",
                                 "translatedDescription": None}, status_code=400)
        if doc.get("platformPartnerId") != self.platform_partner_id:
            return JSONResponse({"status": 106201, "description": "Invalid platformPartnerId",
                                 "translatedDescription": None}, status_code=400)
        gates = doc.get("deliveryReportGates") or []
        if doc.get("useDeliveryReport", True) and not gates:
            return JSONResponse({"status": 106300, "description": "No delivery report gates",
                                 "translatedDescription": None}, status_code=400)
        to = doc["destination"]
        if to in self._rejects:
            return JSONResponse({"status": 106000, "description": "Invalid destination",
                                 "translatedDescription": None}, status_code=self._rejects[to])
        mid = base64.b64encode(os.urandom(18)).decode()
        text = str(doc["userData"])
        url = self.gate_url if self.gate_id in gates else None
        self.messages[mid] = {
            "requestId": None, "recipient": to, "sender": doc["source"], "text": text,
            "encoding": doc.get("dcs"), "referenceId": doc.get("refId"),
            "segments": _segments(text), "reportUrl": url, "common": True}
        if url and self.auto_reports and self._nursery is not None:
            self._schedule(self._reports, mid, self._outcomes.get(to, [1000, 1001]))
        if doc.get("ignoreResponse", True):
            return Response(status_code=204)
        return JSONResponse({"messageId": mid, "resultCode": 1005, "description": "Queued"})

    # --- the REST API --------------------------------------------------------------

    async def _token(self, request: Request) -> Response:
        # Parsed here: starlette's form() needs python-multipart.
        form = dict(urllib.parse.parse_qsl((await request.body()).decode("latin-1")))
        self.token_requests.append(form)
        if self._token_failures:
            status = self._token_failures.pop(0)
            return JSONResponse({"error": "server_error" if status >= 500 else "unauthorized_client",
                                 "error_description": "injected"}, status_code=status)
        if form.get("grant_type") != "client_credentials":
            return JSONResponse({"error": "unsupported_grant_type"}, status_code=400)
        if form.get("client_id") != self.client_id or form.get("client_secret") != self.client_secret:
            return JSONResponse({"error": "unauthorized_client",
                                 "error_description": "Invalid client secret"}, status_code=401)
        token = os.urandom(16).hex()
        self.tokens[token] = time.time() + self.token_ttl
        return JSONResponse({"access_token": token, "expires_in": int(self.token_ttl) or 1,
                             "refresh_expires_in": 0, "token_type": "Bearer",
                             "not-before-policy": 0, "scope": "profile email"})

    async def _send(self, request: Request) -> Response:
        try:
            doc = json.loads(await request.body())
        except ValueError:
            doc = None
        auth = request.headers.get("authorization", "")
        self.requests.append((request.method, request.url.path, doc, auth))
        rid = str(uuid.uuid4())
        token = auth[7:] if auth.startswith("Bearer ") else ""
        if self.tokens.get(token, 0.0) <= time.time():
            return JSONResponse({"message": "Unauthorized"}, status_code=401)
        if self._failures:
            status, retry_after = self._failures.pop(0)
            if status == 401:
                r: Response = JSONResponse({"message": "Unauthorized"}, status_code=401)
            elif status == 403:
                r = Response(status_code=403)
            else:
                r = JSONResponse({"requestId": rid, "description": "Too many requests"
                                  if status == 429 else "Internal error", "code": str(status)},
                                 status_code=status)
            if retry_after is not None:
                r.headers["Retry-After"] = retry_after
            return r
        if not isinstance(doc, list) or not 1 <= len(doc) <= 1000:
            return JSONResponse({"requestId": rid, "message": "body must be an array of 1..1000"},
                                status_code=400)
        out = []
        for i, msg in enumerate(doc):
            content = msg.get("content") if isinstance(msg, dict) else None
            to = str(msg.get("recipient") or "") if isinstance(msg, dict) else ""
            options = (content or {}).get("options") if isinstance(content, dict) else None
            text = content.get("text") if isinstance(content, dict) else None
            if not to.startswith("+") or not isinstance(text, str) or not text \
                    or not isinstance(options, dict) or not options.get("sms.sender"):
                return JSONResponse({"requestId": rid, "message": f"[{i}] invalid message"},
                                    status_code=400)
            if to in self._rejects:
                return JSONResponse({"requestId": rid, "message": f"[{i}].recipient invalid"},
                                    status_code=self._rejects[to])
            mid = str(uuid.uuid4())
            callback = msg.get("callback") or {}
            url = ((callback.get("urls") or [None])[0] if callback.get("mode") == "URL"
                   else self.dlr_url if callback.get("mode", "Profile") == "Profile" else None)
            self.messages[mid] = {
                "requestId": rid, "recipient": to, "sender": options.get("sms.sender"),
                "text": text, "encoding": options.get("sms.encoding"),
                "referenceId": msg.get("referenceId"), "segments": _segments(text),
                "reportUrl": url}
            out.append({"messageId": mid, "referenceId": msg.get("referenceId"), "recipient": to})
            if url and self.auto_reports and self._nursery is not None:
                self._schedule(self._reports, mid, self._outcomes.get(to, [1001, 2000]))
        return JSONResponse({"requestId": rid, "messages": out}, status_code=202)
