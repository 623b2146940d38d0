"""A fake Twilio (Programmable Messaging) for tests, benches and the demo.

It serves the REST shapes of spec/PROVIDERS.md over real HTTP on loopback
(hypercorn's trio worker) and, like Twilio, calls the gateway back: status
callbacks to each message's StatusCallback and inbound messages to a webhook,
each signed with a correct X-Twilio-Signature (or, on request, a bad one).

    async with TwilioFake() as fake:                   # listens on 127.0.0.1
        config = {..., "account_sid": fake.account_sid, "auth_token": fake.auth_token,
                  "api_base": fake.base_url}
        fake.add_number("+15005550006", sms_url=".../mo")
        fake.outcome("+15005550001", ["sent", "undelivered"], error_code=30003)
        fake.fail_next(2, http_status=429, code=20429, retry_after="0")
        ...
        await fake.wait_idle()                         # every callback answered
        await fake.send_inbound(url, "+15551230000", "+15005550006", "STOP")

The fake's signing code is written independently of byosms.providers.twilio
on purpose: end-to-end tests then check our validator against a second
implementation (and the official ``twilio`` package checks both).
"""

from __future__ import annotations

import base64
import email.utils
import hashlib
import hmac
import math
import os
import re
import urllib.parse
from collections.abc import Iterable, Sequence
from typing import Any

import httpx
import trio
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

__all__ = ["TwilioFake", "twilio_signature"]

API_VERSION = "2010-04-01"
_E164 = re.compile(r"^\+[1-9][0-9]{6,14}$")
# GSM 03.38 basic set and the characters of its extension table (which
# take two septets): enough to count segments like Twilio does.
_GSM_BASIC = set(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
_GSM_EXT = set("^{}\\[~]|€\f")


def twilio_signature(auth_token: str, url: str, params: Iterable[tuple[str, str]] = ()) -> str:
    """How Twilio signs a request (PROVIDERS.md): the URL, then for each
    sorted distinct name each of its sorted distinct values, name+value;
    base64 of HMAC-SHA1 with the Auth Token."""
    by_name: dict[str, set[str]] = {}
    for k, v in params:
        by_name.setdefault(k, set()).add(v)
    data = url + "".join(k + v for k in sorted(by_name) for v in sorted(by_name[k]))
    return base64.b64encode(hmac.new(auth_token.encode(), data.encode(), hashlib.sha1).digest()).decode()


def _segments(body: str) -> int:
    if all(c in _GSM_BASIC or c in _GSM_EXT for c in body):
        septets = sum(2 if c in _GSM_EXT else 1 for c in body)
        return 1 if septets <= 160 else math.ceil(septets / 153)
    units = len(body.encode("utf-16-le")) // 2
    return 1 if units <= 70 else math.ceil(units / 67)


def _rfc2822() -> str:
    return email.utils.formatdate(usegmt=False).replace("-0000", "+0000")


def _sid(prefix: str) -> str:
    return prefix + os.urandom(16).hex()


def _error(code: int, message: str, status: int, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(
        {"code": code, "message": message, "more_info": f"https://www.twilio.com/docs/errors/{code}", "status": status},
        status_code=status,
        headers=headers,
    )


class TwilioFake:
    """See the module docstring. Attributes useful to tests: ``messages``
    (sid -> Twilio's JSON of the message, updated as callbacks go),
    ``requests`` (every REST request: method, path, form), ``callbacks``
    (every callback sent: url, params, HTTP status answered),
    ``connections`` (distinct client connections seen)."""

    def __init__(
        self,
        *,
        account_sid: str | None = None,
        auth_token: str | None = None,
        auto_callbacks: bool = True,
        host: str = "127.0.0.1",
    ) -> None:
        self.account_sid = account_sid or _sid("AC")
        self.auth_token = auth_token or os.urandom(16).hex()
        self.auto_callbacks = auto_callbacks
        self.host = host
        self.port = 0
        self.messages: dict[str, dict[str, Any]] = {}
        self.numbers: list[dict[str, Any]] = []
        self.requests: list[tuple[str, str, list[tuple[str, str]]]] = []
        self.callbacks: list[tuple[str, list[tuple[str, str]], int | None]] = []
        self.connections: set[tuple[str, int]] = set()
        #: Callback behaviour switches (apply to callbacks sent afterwards).
        self.bad_signatures = False
        self.out_of_order = False
        self.duplicate_callbacks = False
        self._outcomes: dict[str, tuple[list[str], int | None]] = {}
        self._rejects: dict[str, tuple[int, int, str]] = {}
        self._failures: list[tuple[int, int, str | None]] = []
        self._pending = 0
        self._idle = trio.Event()
        self._idle.set()
        self._nursery: trio.Nursery | None = None
        self._cm: Any = None
        self._client: httpx.AsyncClient | None = None
        self.app = self._make_app()

    # --- configuration ------------------------------------------------------

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def add_number(
        self,
        phone_number: str,
        *,
        sms_url: str | None = None,
        sms_method: str = "POST",
        sms_application_sid: str | None = None,
    ) -> dict[str, Any]:
        """An IncomingPhoneNumber of the account."""
        sid = _sid("PN")
        row = {
            "sid": sid,
            "account_sid": self.account_sid,
            "phone_number": phone_number,
            "friendly_name": phone_number,
            "sms_url": sms_url or "",
            "sms_method": sms_method,
            "sms_fallback_url": "",
            "sms_fallback_method": "POST",
            "sms_application_sid": sms_application_sid or "",
            "capabilities": {"voice": True, "sms": True, "mms": True, "fax": False},
            "status": "in-use",
            "api_version": API_VERSION,
            "date_created": _rfc2822(),
            "date_updated": _rfc2822(),
            "uri": f"/{API_VERSION}/Accounts/{self.account_sid}/IncomingPhoneNumbers/{sid}.json",
        }
        self.numbers.append(row)
        return row

    def outcome(self, to: str, statuses: Sequence[str], *, error_code: int | None = None) -> None:
        """The status callbacks sent for messages to ``to`` (default
        ``["sent", "delivered"]``; the initial ``queued`` gets none, as at
        Twilio). ``error_code`` goes with failed/undelivered."""
        self._outcomes[to] = (list(statuses), error_code)

    def reject(self, to: str, code: int, *, http_status: int = 400, message: str = "rejected") -> None:
        """Answer every create for ``to`` with this error (e.g. 21610)."""
        self._rejects[to] = (code, http_status, message)

    def fail_next(self, n: int = 1, *, http_status: int = 429, code: int = 20429, retry_after: str | None = None) -> None:
        """The next ``n`` creates fail so (429 / 20429 "too many requests" by default)."""
        self._failures.extend([(http_status, code, retry_after)] * n)

    # --- lifecycle ----------------------------------------------------------

    async def run(self, *, task_status: Any = trio.TASK_STATUS_IGNORED) -> None:
        from byosms.web import serve_web  # the gateway's own server helper

        async with httpx.AsyncClient(timeout=10.0) as client, trio.open_nursery() as nursery:
            self._client = client
            self._nursery = nursery
            self.port = await nursery.start(serve_web, self.app, self.host, 0)
            task_status.started(self)

    async def __aenter__(self) -> TwilioFake:
        self._cm = trio.open_nursery()
        nursery = await self._cm.__aenter__()
        await nursery.start(self.run)
        self._outer = nursery
        return self

    async def __aexit__(self, *exc: Any) -> bool | None:
        self._outer.cancel_scope.cancel()
        return await self._cm.__aexit__(*exc)

    async def wait_idle(self) -> None:
        """Until every callback scheduled so far has been answered."""
        while self._pending:
            await self._idle.wait()

    # --- outgoing webhooks ----------------------------------------------------

    async def post_webhook(
        self, url: str, params: list[tuple[str, str]], *, signature: str | None = "good", headers: dict[str, str] | None = None
    ) -> httpx.Response:
        """POST a form to our webhook, signed (``"good"``), wrongly signed
        (``"bad"``), unsigned (None), or with the given signature string."""
        assert self._client is not None, "the fake is not running"
        h = dict(headers or {})
        if signature == "good":
            h["X-Twilio-Signature"] = twilio_signature(self.auth_token, url, params)
        elif signature == "bad":
            h["X-Twilio-Signature"] = twilio_signature(self.auth_token + "x", url, params)
        elif signature is not None:
            h["X-Twilio-Signature"] = signature
        h["Content-Type"] = "application/x-www-form-urlencoded"
        return await self._client.post(url, content=urllib.parse.urlencode(params).encode(), headers=h)

    async def send_inbound(
        self,
        url: str,
        from_: str,
        to: str,
        body: str,
        *,
        signature: str | None = "good",
        messaging_service_sid: str | None = None,
        message_sid: str | None = None,
        extra: dict[str, str] | None = None,
    ) -> httpx.Response:
        """An inbound SMS to our webhook, as Twilio posts it."""
        sid = message_sid or _sid("SM")
        params = [
            ("ToCountry", "US"), ("ToState", "CA"), ("SmsMessageSid", sid), ("NumMedia", "0"),
            ("ToCity", ""), ("FromZip", ""), ("SmsSid", sid), ("FromState", "CA"),
            ("SmsStatus", "received"), ("FromCity", ""), ("Body", body), ("FromCountry", "US"),
            ("To", to), ("ToZip", ""), ("NumSegments", str(_segments(body))), ("MessageSid", sid),
            ("AccountSid", self.account_sid), ("From", from_), ("ApiVersion", API_VERSION),
        ]
        if messaging_service_sid:
            params.append(("MessagingServiceSid", messaging_service_sid))
        for k, v in (extra or {}).items():
            params.append((k, v))
        return await self.post_webhook(
            url, params, signature=signature, headers={"I-Twilio-Idempotency-Token": os.urandom(16).hex()}
        )

    def status_params(self, sid: str, status: str, error_code: int | None = None) -> list[tuple[str, str]]:
        m = self.messages[sid]
        params = [
            ("AccountSid", self.account_sid), ("From", m["from"] or ""), ("To", m["to"]),
            ("MessageSid", sid), ("MessageStatus", status), ("SmsSid", sid), ("SmsStatus", status),
            ("ApiVersion", API_VERSION),
        ]
        if m.get("messaging_service_sid"):
            params.append(("MessagingServiceSid", m["messaging_service_sid"]))
        if status in ("failed", "undelivered") and error_code is not None:
            params.append(("ErrorCode", str(error_code)))
        if status in ("delivered", "undelivered"):
            params.append(("RawDlrDoneDate", _dlr_date()))
        return params

    async def deliver(
        self, sid: str, status: str, *, error_code: int | None = None, signature: str | None = None
    ) -> httpx.Response:
        """Send one status callback for ``sid`` now and return our answer.
        ``signature`` None means correct unless ``bad_signatures`` is set."""
        m = self.messages[sid]
        m["status"] = status
        m["date_updated"] = _rfc2822()
        if status in ("failed", "undelivered"):
            m["error_code"] = error_code
            m["error_message"] = f"error {error_code}" if error_code else None
        params = self.status_params(sid, status, error_code)
        url = m["_status_callback"]
        sig = signature or ("bad" if self.bad_signatures else "good")
        try:
            response = await self.post_webhook(url, params, signature=sig)
        except httpx.HTTPError:
            self.callbacks.append((url, params, None))
            raise
        self.callbacks.append((url, params, response.status_code))
        return response

    async def _callbacks(self, sid: str, statuses: list[str], error_code: int | None) -> None:
        try:
            plan = list(reversed(statuses)) if self.out_of_order else list(statuses)
            if self.duplicate_callbacks:
                plan = [s for s in plan for _ in (0, 1)]
            for status in plan:
                try:
                    await self.deliver(sid, status, error_code=error_code)
                except httpx.HTTPError:
                    pass  # Twilio does not retry status callbacks either
        finally:
            self._pending -= 1
            if not self._pending:
                self._idle.set()

    # --- REST API -----------------------------------------------------------

    def _authorized(self, request: Request, account: str) -> bool:
        header = request.headers.get("authorization", "")
        scheme, _, value = header.partition(" ")
        if scheme.lower() != "basic":
            return False
        try:
            user, _, password = base64.b64decode(value).decode().partition(":")
        except (ValueError, UnicodeDecodeError):
            return False
        return (
            hmac.compare_digest(user, self.account_sid)
            and hmac.compare_digest(password, self.auth_token)
            and account == self.account_sid
        )

    def _note(self, request: Request, form: list[tuple[str, str]]) -> None:
        client = request.scope.get("client")
        if client:
            self.connections.add(tuple(client))  # type: ignore[arg-type]
        self.requests.append((request.method, request.url.path, form))

    def _make_app(self) -> Starlette:
        auth_error = (20003, "Authenticate", 401)

        async def create(request: Request) -> Response:
            account = request.path_params["account"]
            # parse_qsl, not request.form(): no python-multipart dependency.
            form = urllib.parse.parse_qsl((await request.body()).decode("utf-8", "replace"), keep_blank_values=True)
            self._note(request, form)
            if not self._authorized(request, account):
                return _error(*auth_error)
            if self._failures:
                status, code, retry_after = self._failures.pop(0)
                headers = {"Retry-After": retry_after} if retry_after is not None else None
                return _error(code, "Too Many Requests" if status == 429 else "failure", status, headers)
            f = dict(form)
            to = f.get("To")
            if not to:
                return _error(21604, "A 'To' phone number is required.", 400)
            if not _E164.match(to):
                return _error(21211, f"The 'To' number {to} is not a valid phone number.", 400)
            if not f.get("From") and not f.get("MessagingServiceSid"):
                return _error(21603, "A 'From' phone number is required.", 400)
            body = f.get("Body")
            if not body:
                return _error(21602, "Message body is required.", 400)
            if len(body) > 1600:
                return _error(21617, "The concatenated message body exceeds the 1600 character limit.", 400)
            if to in self._rejects:
                code, status, message = self._rejects[to]
                return _error(code, message, status)
            sid = _sid("SM")
            now = _rfc2822()
            service = f.get("MessagingServiceSid")
            msg = {
                "account_sid": self.account_sid,
                "api_version": API_VERSION,
                "body": body,
                "date_created": now,
                "date_sent": None,
                "date_updated": now,
                "direction": "outbound-api",
                "error_code": None,
                "error_message": None,
                "from": f.get("From"),
                "messaging_service_sid": service,
                "num_media": "0",
                "num_segments": str(_segments(body)),
                "price": None,
                "price_unit": "USD",
                "sid": sid,
                "status": "accepted" if service and not f.get("From") else "queued",
                "subresource_uris": {"media": f"/{API_VERSION}/Accounts/{self.account_sid}/Messages/{sid}/Media.json"},
                "to": to,
                "uri": f"/{API_VERSION}/Accounts/{self.account_sid}/Messages/{sid}.json",
            }
            self.messages[sid] = dict(msg, _status_callback=f.get("StatusCallback"))
            callback = f.get("StatusCallback")
            if callback and self.auto_callbacks and self._nursery is not None:
                statuses, error_code = self._outcomes.get(to, (["sent", "delivered"], None))
                self._pending += 1
                self._idle = trio.Event()
                self._nursery.start_soon(self._callbacks, sid, statuses, error_code)
            return JSONResponse(msg, status_code=201)

        async def fetch(request: Request) -> Response:
            account = request.path_params["account"]
            self._note(request, [])
            if not self._authorized(request, account):
                return _error(*auth_error)
            m = self.messages.get(request.path_params["sid"])
            if m is None:
                return _error(20404, f"The requested resource {request.url.path} was not found", 404)
            return JSONResponse({k: v for k, v in m.items() if not k.startswith("_")})

        async def numbers(request: Request) -> Response:
            account = request.path_params["account"]
            self._note(request, list(request.query_params.multi_items()))
            if not self._authorized(request, account):
                return _error(*auth_error)
            wanted = request.query_params.get("PhoneNumber")
            rows = [n for n in self.numbers if wanted is None or n["phone_number"] == wanted]
            uri = f"/{API_VERSION}/Accounts/{account}/IncomingPhoneNumbers.json"
            return JSONResponse(
                {
                    "incoming_phone_numbers": rows,
                    "page": 0,
                    "page_size": 50,
                    "start": 0,
                    "end": max(len(rows) - 1, 0),
                    "first_page_uri": uri + "?PageSize=50&Page=0",
                    "next_page_uri": None,
                    "previous_page_uri": None,
                    "uri": uri,
                }
            )

        base = f"/{API_VERSION}/Accounts/{{account}}"
        return Starlette(
            routes=[
                Route(base + "/Messages.json", create, methods=["POST"]),
                Route(base + "/Messages/{sid}.json", fetch, methods=["GET"]),
                Route(base + "/IncomingPhoneNumbers.json", numbers, methods=["GET"]),
            ]
        )


def _dlr_date() -> str:
    """RawDlrDoneDate: YYMMDDhhmm (UTC)."""
    import time

    return time.strftime("%y%m%d%H%M", time.gmtime())
