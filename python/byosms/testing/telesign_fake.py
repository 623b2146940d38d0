"""A fake TeleSign (Messaging REST API) for tests and users' own tests.

It serves the shapes of spec/PROVIDERS-HTTP.md ("TeleSign") over real HTTP on
loopback and, like TeleSign, calls back: a delivery callback per message to
its `callback_url`, and inbound messages (`mo_sms`) on request, each signed
in both `Authorization` (`TSA {customer_id}:{sig}`) and `X-TS-Authorization`.

    async with TelesignFake() as fake:                 # listens on 127.0.0.1
        config = {..., "customer_id": fake.customer_id, "api_key": fake.api_key,
                  "api_base": fake.base_url}
        fake.outcome("15551230001", [203, 211])         # delivered to gateway, then failed
        fake.fail_next(1, http_status=429)
        ...
        await fake.wait_idle()
        await fake.send_inbound(url, "+15551230000", "+15005550006", "STOP")

Request authentication is checked as TeleSign does: HTTP Basic, or the TSA
digest over method, content type, Date, nonce, body and path — a nonce seen
before is refused (-30012), a Date more than 15 minutes off too (-30010).
The signing code here is written independently of byosms.providers.telesign
on purpose: end-to-end tests check one against the other, and TeleSign's own
SDK checks both.
"""

from __future__ import annotations

import base64
import email.utils
import hashlib
import hmac
import json
import os
import time
import urllib.parse
from collections.abc import Sequence
from typing import Any

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from byosms.testing.http_fake import HttpFake

__all__ = ["DESCRIPTIONS", "TelesignFake"]

DESCRIPTIONS = {
    200: "Delivered to handset", 203: "Delivered to gateway", 207: "Error delivering SMS to handset (reason unknown)",
    210: "Temporary phone error", 211: "Permanent phone error", 220: "Gateway/Carrier cannot route message",
    221: "Message expired before it could be delivered", 222: "SMS not supported", 229: "Message blocked by your request",
    230: "Message blocked by TeleSign", 231: "Invalid message content", 233: "Message blocked: high-risk number",
    237: "Message blocked: destination country", 238: "Message blocked: destination prefix",
    290: "Message in progress",
}
#: A TSA Date may be this far from the fake's clock (seconds).
DATE_TOLERANCE = 900


def _error(http_status: int, code: int, description: str) -> Response:
    body = {"reference_id": None, "status": {"code": code, "description": description,
                                             "updated_on": _rfc3339()},
            "errors": [{"code": code, "description": description}]}
    return JSONResponse(body, status_code=http_status)


def _rfc3339() -> str:
    t = time.time()
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + f".{int(t % 1 * 1e6):06d}Z"


class TelesignFake(HttpFake):
    """See the module docstring."""

    def __init__(self, *, customer_id: str | None = None, api_key: str | None = None,
                 host: str = "127.0.0.1", auto_callbacks: bool = True) -> None:
        self.customer_id = customer_id or "FFFFFFFF-EEEE-DDDD-1234-" + os.urandom(6).hex().upper()
        self.api_key = api_key or base64.b64encode(os.urandom(48)).decode()
        super().__init__()
        self.host = host
        self.auto_callbacks = auto_callbacks
        self.out_of_order = False
        self.duplicate_callbacks = False
        #: reference_id -> the message (form fields, status).
        self.messages: dict[str, dict[str, Any]] = {}
        #: (method, path, form, the Authorization scheme) of every request.
        self.requests: list[tuple[str, str, dict[str, str], str]] = []
        self.callbacks: list[tuple[str, dict[str, Any], int | None]] = []
        self._nonces: set[str] = set()
        self._outcomes: dict[str, list[int]] = {}
        self._failures: list[tuple[int, int]] = []
        self.app = Starlette(routes=[
            Route("/v1/messaging", self._send, methods=["POST"]),
            Route("/v1/messaging/{ref}", self._status, methods=["GET"]),
        ])

    # --- behaviour --------------------------------------------------------------

    def outcome(self, phone_number: str, codes: Sequence[int]) -> None:
        """The delivery callbacks for messages to ``phone_number`` (default
        [203, 200])."""
        self._outcomes[phone_number.lstrip("+")] = list(codes)

    def fail_next(self, n: int = 1, *, http_status: int = 429, code: int = 3204) -> None:
        """The next ``n`` sends fail so (429 / 3204 "Rate limit exceeded")."""
        self._failures.extend([(http_status, code)] * n)

    # --- signing (TeleSign's side) ------------------------------------------------

    def _mac(self, data: bytes) -> str:
        key = base64.b64decode(self.api_key)
        return base64.b64encode(hmac.new(key, data, hashlib.sha256).digest()).decode()

    def _check(self, request: Request, body: bytes) -> Response | None:
        auth = request.headers.get("authorization", "")
        if auth.startswith("Basic "):
            want = base64.b64encode(f"{self.customer_id}:{self.api_key}".encode()).decode()
            return None if hmac.compare_digest(auth[6:], want) else _error(401, -30006, "Invalid signature.")
        if not auth.startswith("TSA "):
            return _error(401, -30004 if not auth else -30005, "Invalid Authorization header.")
        cid, _, sig = auth[4:].partition(":")
        if cid != self.customer_id:
            return _error(401, -30000, "Invalid Customer ID.")
        date = request.headers.get("date", "")
        nonce = request.headers.get("x-ts-nonce", "")
        try:
            sent = email.utils.parsedate_to_datetime(date).timestamp()
        except (TypeError, ValueError):
            return _error(401, -30009, "Date is not RFC 822.")
        if abs(sent - time.time()) > DATE_TOLERANCE:
            return _error(401, -30010, "Date is outside the tolerated range.")
        if request.headers.get("x-ts-auth-method") != "HMAC-SHA256":
            return _error(401, -30008, "Invalid x-ts-auth-method.")
        if nonce in self._nonces:
            return _error(401, -30012, "Nonce was used recently.")
        method = request.method
        ct = request.headers.get("content-type", "") if method in ("POST", "PUT") else ""
        lines = [method, ct, date, "x-ts-auth-method:HMAC-SHA256", f"x-ts-nonce:{nonce}"]
        if ct and body:
            lines.append(body.decode("utf-8"))
        lines.append(request.url.path)
        if not hmac.compare_digest(sig, self._mac("\n".join(lines).encode())):
            return _error(401, -30006, "Invalid signature.")
        self._nonces.add(nonce)
        return None

    # --- callbacks ----------------------------------------------------------------

    async def post_callback(self, url: str, doc: dict[str, Any], *, signature: str = "good"
                            ) -> httpx.Response:
        """POST ``doc`` as TeleSign does, signed (``"good"``), wrongly
        (``"bad"``) or not at all (``"none"``)."""
        assert self._client is not None, "the fake is not running"
        body = json.dumps(doc).encode()
        headers = {"Content-Type": "application/json"}
        if signature != "none":
            sig = self._mac(body) if signature == "good" else self._mac(body + b"x")
            headers["Authorization"] = f"TSA {self.customer_id}:{sig}"
            headers["X-TS-Authorization"] = f"TSA {self.customer_id}:{sig}"
        return await self._client.post(url, content=body, headers=headers)

    def callback_body(self, ref: str, code: int) -> dict[str, Any]:
        m = self.messages[ref]
        return {"status": {"updated_on": _rfc3339(), "code": code,
                           "description": DESCRIPTIONS.get(code, "")},
                "errors": [], "sub_resource": "sms", "reference_id": ref,
                "additional_info": {"mcc": "310", "mnc": "260", "price": "0.0075",
                                    "currency": "USD",
                                    "message_parts_count": str(m["parts"])}}

    async def deliver(self, ref: str, code: int, *, signature: str = "good") -> httpx.Response:
        m = self.messages[ref]
        m["status"] = code
        url = m["callback_url"]
        doc = self.callback_body(ref, code)
        try:
            r = await self.post_callback(url, doc, signature=signature)
        except httpx.HTTPError:
            self.callbacks.append((url, doc, None))
            raise
        self.callbacks.append((url, doc, r.status_code))
        return r

    def inbound_body(self, from_: str, to: str, text: str, *, ref: str | None = None
                     ) -> dict[str, Any]:
        return {"reference_id": ref or os.urandom(16).hex().upper(), "sub_resource": "mo_sms",
                "status": {"code": 1500, "description": "Inbound message received",
                           "updated_on": _rfc3339()},
                "errors": [],
                "user_response": {"phone_number": from_.lstrip("+"), "sender_id": to.lstrip("+"),
                                  "mo_message": text}}

    async def send_inbound(self, url: str, from_: str, to: str, text: str, *,
                           ref: str | None = None, signature: str = "good") -> httpx.Response:
        return await self.post_callback(url, self.inbound_body(from_, to, text, ref=ref),
                                        signature=signature)

    async def _callbacks(self, ref: str, codes: list[int]) -> None:
        plan = list(reversed(codes)) if self.out_of_order else list(codes)
        if self.duplicate_callbacks:
            plan = [c for c in plan for _ in (0, 1)]
        for code in plan:
            try:
                await self.deliver(ref, code)
            except httpx.HTTPError:
                pass

    # --- the REST API -------------------------------------------------------------

    async def _send(self, request: Request) -> Response:
        body = await request.body()
        form = dict(urllib.parse.parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
        self.requests.append((request.method, request.url.path, form,
                              request.headers.get("authorization", "").split(" ")[0]))
        refused = self._check(request, body)
        if refused is not None:
            return refused
        if self._failures:
            status, code = self._failures.pop(0)
            return _error(status, code, "Rate limit exceeded" if status == 429 else "Error")
        phone = form.get("phone_number", "")
        if not phone:
            return _error(400, 12000, "Missing required parameter phone_number.")
        if not phone.isdigit() or not 7 <= len(phone) <= 15:
            return _error(400, 11000, "Invalid value for parameter phone_number.")
        text = form.get("message", "")
        if not text:
            return _error(400, 12009, "Missing required parameter message.")
        if len(text) > 1600:
            return _error(400, 11009, "Invalid value for parameter message.")
        if form.get("message_type") not in ("OTP", "ARN", "MKT"):
            return _error(400, 11017, "Invalid value for parameter message_type.")
        ref = os.urandom(16).hex().upper()
        gsm = all(ord(c) < 128 for c in text)
        parts = 1 if len(text) <= (160 if gsm else 70) else -(-len(text) // (153 if gsm else 67))
        self.messages[ref] = {"phone_number": phone, "message": text, "parts": parts,
                              "sender_id": form.get("sender_id"), "status": 290,
                              "external_id": form.get("external_id"),
                              "callback_url": form.get("callback_url")}
        if form.get("callback_url") and self.auto_callbacks and self._nursery is not None:
            self._schedule(self._callbacks, ref, self._outcomes.get(phone, [203, 200]))
        return JSONResponse({"reference_id": ref, "external_id": form.get("external_id"),
                             "status": {"code": 290, "description": "Message in progress",
                                        "updated_on": _rfc3339()}})

    async def _status(self, request: Request) -> Response:
        refused = self._check(request, b"")
        if refused is not None:
            return refused
        m = self.messages.get(request.path_params["ref"])
        if m is None:
            return _error(404, 10000, "Not found.")
        code = m["status"]
        return JSONResponse({"reference_id": request.path_params["ref"],
                             "status": {"code": code, "description": DESCRIPTIONS.get(code, ""),
                                        "updated_on": _rfc3339()}})
