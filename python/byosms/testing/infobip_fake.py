"""A fake Infobip (SMS API v3) for tests, benches and users' own tests.

It serves the shapes of spec/PROVIDERS-HTTP.md ("Infobip") over real HTTP on
loopback and, like Infobip, calls back: a delivery report per message to the
`webhooks.delivery.url` the send named, and inbound messages on request.

    async with InfobipFake() as fake:                  # listens on 127.0.0.1
        config = {..., "base_url": fake.base_url, "api_key": fake.api_key}
        fake.outcome("41793026727", ["PENDING", "DELIVERED"])
        fake.outcome("41793026728", ["REJECTED"], error_id=1)
        fake.fail_next(2, http_status=429)             # throttled, v3 ApiError body
        fake.reject("41793026729", http_status=400)    # a v3 ApiError with a violation
        ...
        await fake.wait_idle()                         # every report answered
        await fake.send_inbound(url, "41793026727", "447860099299", "STOP")

Webhooks go out unsigned unless ``webhook_auth`` says otherwise ("basic" with
``webhook_username``/``webhook_password``, or "hmac" with ``hmac_secret``,
hex HMAC-SHA256 of the body in ``hmac_header``): what Infobip's
Subscriptions security settings add. ``out_of_order`` and
``duplicate_reports`` exercise the gateway's ordering.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json
import os
from collections.abc import Sequence
from typing import Any

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from byosms.testing.http_fake import HttpFake

__all__ = ["InfobipFake", "STATUS"]

#: groupName -> (groupId, status id, status name) as Infobip reports them.
STATUS: dict[str, tuple[int, int, str]] = {
    "PENDING": (1, 26, "PENDING_ACCEPTED"),
    "ENROUTE": (1, 7, "PENDING_ENROUTE"),
    "UNDELIVERABLE": (2, 4, "UNDELIVERABLE_REJECTED_OPERATOR"),
    "DELIVERED_TO_OPERATOR": (3, 2, "DELIVERED_TO_OPERATOR"),
    "DELIVERED": (3, 5, "DELIVERED_TO_HANDSET"),
    "EXPIRED": (4, 15, "EXPIRED_EXPIRED"),
    "REJECTED": (5, 12, "REJECTED_NOT_ENOUGH_CREDITS"),
}
_GROUP_NAMES = {1: "PENDING", 2: "UNDELIVERABLE", 3: "DELIVERED", 4: "EXPIRED", 5: "REJECTED"}
_ERROR_GROUPS = {0: "OK", 1: "HANDSET_ERRORS", 2: "USER_ERRORS", 3: "OPERATOR_ERRORS"}
#: error id -> (group, name, permanent) for the ids the fake reports.
_ERRORS: dict[int, tuple[int, str, bool]] = {
    0: (0, "NO_ERROR", False),
    1: (1, "EC_UNKNOWN_SUBSCRIBER", True),
    27: (1, "EC_ABSENT_SUBSCRIBER", False),
    34: (3, "EC_SYSTEM_FAILURE", False),
    4000: (2, "EC_INVALID_DESTINATION", True),
}


def _now() -> str:
    """Infobip's timestamp layout: offset without a colon."""
    return dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.000+0000")


def _api_error(status: int, code: str, description: str,
               violations: Sequence[tuple[str, str]] = ()) -> Response:
    """A v3 ApiError body (the family the fake returns on v3 paths)."""
    body = {"errorCode": code, "description": description, "action": "Check the request.",
            "violations": [{"property": p, "violation": v} for p, v in violations],
            "resources": []}
    return JSONResponse(body, status_code=status)


def _segments(text: str) -> int:
    """Infobip's part count, near enough for a fake: GSM-7 or UCS-2 lengths."""
    gsm = all(ord(c) < 128 for c in text)
    single, multi = (160, 153) if gsm else (70, 67)
    return 1 if len(text) <= single else -(-len(text) // multi)


class InfobipFake(HttpFake):
    """See the module docstring."""

    def __init__(self, *, api_key: str | None = None, host: str = "127.0.0.1",
                 auto_reports: bool = True, webhook_auth: str = "none",
                 webhook_username: str = "infobip", webhook_password: str = "",
                 hmac_secret: str = "", hmac_header: str = "X-Hub-Signature") -> None:
        self.api_key = api_key or os.urandom(16).hex()
        super().__init__()
        self.host = host
        self.auto_reports = auto_reports
        self.webhook_auth = webhook_auth
        self.webhook_username = webhook_username
        self.webhook_password = webhook_password or os.urandom(8).hex()
        self.hmac_secret = hmac_secret or os.urandom(16).hex()
        self.hmac_header = hmac_header
        self.out_of_order = False
        self.duplicate_reports = False
        #: messageId -> the message as sent (request fields, status).
        self.messages: dict[str, dict[str, Any]] = {}
        #: (method, path, JSON body or None) of every request.
        self.requests: list[tuple[str, str, Any]] = []
        #: (url, body, our answer's status or None) of every report sent.
        self.reports: list[tuple[str, dict[str, Any], int | None]] = []
        self._outcomes: dict[str, tuple[list[str], int | None]] = {}
        self._rejects: dict[str, int] = {}
        self._failures: list[tuple[int, str | None]] = []
        self.app = Starlette(routes=[Route("/sms/3/messages", self._send, methods=["POST"])])

    # --- behaviour --------------------------------------------------------------

    def outcome(self, to: str, statuses: Sequence[str], *, error_id: int | None = None) -> None:
        """The reports sent for messages to ``to`` (digits, as Infobip sees
        them; default ["DELIVERED"]); names from ``STATUS``; ``error_id``
        goes with a failed final report."""
        self._outcomes[to.lstrip("+")] = (list(statuses), error_id)

    def reject(self, to: str, *, http_status: int = 400) -> None:
        """Answer sends to ``to`` with a v3 ApiError naming the destination."""
        self._rejects[to.lstrip("+")] = http_status

    def fail_next(self, n: int = 1, *, http_status: int = 429,
                  retry_after: str | None = None) -> None:
        """The next ``n`` sends fail so (429 TOO_MANY_REQUESTS by default)."""
        self._failures.extend([(http_status, retry_after)] * n)

    # --- outgoing webhooks --------------------------------------------------------

    def _auth_headers(self, body: bytes) -> dict[str, str]:
        if self.webhook_auth == "basic":
            token = base64.b64encode(f"{self.webhook_username}:{self.webhook_password}".encode())
            return {"Authorization": "Basic " + token.decode()}
        if self.webhook_auth == "hmac":
            mac = hmac.new(self.hmac_secret.encode(), body, hashlib.sha256).hexdigest()
            return {self.hmac_header: mac}
        return {}

    async def post_webhook(self, url: str, doc: dict[str, Any], *,
                           headers: dict[str, str] | None = None) -> httpx.Response:
        """POST ``doc`` as Infobip does (JSON), with the configured security."""
        assert self._client is not None, "the fake is not running"
        body = json.dumps(doc).encode()
        h = {"Content-Type": "application/json", **self._auth_headers(body), **(headers or {})}
        return await self._client.post(url, content=body, headers=h)

    def report_body(self, message_id: str, status: str, error_id: int | None = None
                    ) -> dict[str, Any]:
        """A delivery report of one message, as Infobip posts it."""
        m = self.messages[message_id]
        group, sid, name = STATUS[status]
        eid = error_id if error_id is not None and group in (2, 4, 5) else 0
        egroup, ename, permanent = _ERRORS.get(eid, (1, f"EC_{eid}", True))
        return {"results": [{
            "bulkId": m["bulkId"], "messageId": message_id, "to": m["to"], "sender": m["sender"],
            "sentAt": m["sentAt"], "doneAt": _now(), "messageCount": m["messageCount"],
            "mccMnc": "22801", "callbackData": m.get("callbackData"),
            "price": {"pricePerMessage": 0.01, "currency": "EUR"},
            "status": {"groupId": group, "groupName": _GROUP_NAMES[group], "id": sid,
                       "name": name, "description": name.replace("_", " ").lower()},
            "error": {"groupId": egroup, "groupName": _ERROR_GROUPS[egroup], "id": eid,
                      "name": ename, "description": ename, "permanent": permanent},
        }]}

    async def deliver(self, message_id: str, status: str, *, error_id: int | None = None
                      ) -> httpx.Response:
        """Send one delivery report for ``message_id`` now; our answer."""
        url = self.messages[message_id]["reportUrl"]
        doc = self.report_body(message_id, status, error_id)
        try:
            response = await self.post_webhook(url, doc)
        except httpx.HTTPError:
            self.reports.append((url, doc, None))
            raise
        self.reports.append((url, doc, response.status_code))
        return response

    def inbound_body(self, from_: str, to: str, text: str, *,
                     message_id: str | None = None) -> dict[str, Any]:
        """An inbound SMS (MO_JSON_2), numbers as Infobip writes them (digits)."""
        words = text.split()
        return {"results": [{
            "applicationId": "default", "messageId": message_id or os.urandom(12).hex(),
            "from": from_.lstrip("+"), "to": to.lstrip("+"), "text": text,
            "cleanText": " ".join(words[1:]) if len(words) > 1 else "",
            "keyword": words[0].upper() if words else "", "receivedAt": _now(),
            "smsCount": _segments(text), "price": {"pricePerMessage": 0, "currency": "EUR"},
            "callbackData": None}], "messageCount": 1, "pendingMessageCount": 0}

    async def send_inbound(self, url: str, from_: str, to: str, text: str, *,
                           message_id: str | None = None,
                           headers: dict[str, str] | None = None) -> httpx.Response:
        """Post ``inbound_body(...)`` to our webhook at ``url``."""
        return await self.post_webhook(url, self.inbound_body(from_, to, text,
                                                              message_id=message_id),
                                       headers=headers)

    async def _reports(self, message_id: str, statuses: list[str], error_id: int | None) -> None:
        plan = list(reversed(statuses)) if self.out_of_order else list(statuses)
        if self.duplicate_reports:
            plan = [s for s in plan for _ in (0, 1)]
        for status in plan:
            try:
                await self.deliver(message_id, status, error_id=error_id)
            except httpx.HTTPError:
                pass

    # --- the REST API ---------------------------------------------------------------

    async def _send(self, request: Request) -> Response:
        try:
            doc = json.loads(await request.body())
        except ValueError:
            doc = None
        self.requests.append((request.method, request.url.path, doc))
        if request.headers.get("authorization", "") != f"App {self.api_key}":
            return _api_error(401, "E401", "Invalid login details")
        if self._failures:
            status, retry_after = self._failures.pop(0)
            r = _api_error(status, "TOO_MANY_REQUESTS" if status == 429 else "E500",
                           "Too many requests" if status == 429 else "Internal error")
            if retry_after is not None:
                r.headers["Retry-After"] = retry_after
            return r
        if not isinstance(doc, dict) or not isinstance(doc.get("messages"), list) \
                or not doc["messages"]:
            return _api_error(400, "E400", "Request cannot be processed.",
                              [("messages", "must not be empty")])
        bulk = os.urandom(10).hex()
        out = []
        for i, msg in enumerate(doc["messages"]):
            text = ((msg.get("content") or {}).get("text"))
            if not isinstance(text, str) or not text:
                return _api_error(400, "E400", "Request cannot be processed.",
                                  [(f"messages[{i}].content.text", "must not be blank")])
            for j, dest in enumerate(msg.get("destinations") or ()):
                to = str(dest.get("to") or "")
                if not to or len(to) > 64:
                    return _api_error(400, "E400", "Request cannot be processed.",
                                      [(f"messages[{i}].destinations[{j}].to", "invalid")])
                if to in self._rejects:
                    return _api_error(self._rejects[to], "E400", "Invalid destination address.",
                                      [(f"messages[{i}].destinations[{j}].to", "invalid")])
                mid = str(dest.get("messageId") or os.urandom(12).hex())
                hooks = msg.get("webhooks") or {}
                delivery = hooks.get("delivery") or {}
                self.messages[mid] = {
                    "bulkId": bulk, "to": to, "sender": msg.get("sender"), "text": text,
                    "sentAt": _now(), "messageCount": _segments(text),
                    "callbackData": hooks.get("callbackData"), "reportUrl": delivery.get("url"),
                    "intermediateReport": bool(delivery.get("intermediateReport")),
                }
                group, sid, name = STATUS["PENDING"]
                out.append({"messageId": mid, "destination": to,
                            "details": {"messageCount": _segments(text)},
                            "status": {"groupId": group, "groupName": "PENDING", "id": sid,
                                       "name": name, "description": "Message sent to next instance"}})
                if delivery.get("url") and self.auto_reports and self._nursery is not None:
                    statuses, error_id = self._outcomes.get(to, (["DELIVERED"], None))
                    if not self.messages[mid]["intermediateReport"]:
                        statuses = [s for s in statuses if STATUS[s][0] != 1]
                    self._schedule(self._reports, mid, statuses, error_id)
        return JSONResponse({"bulkId": bulk, "messages": out})
