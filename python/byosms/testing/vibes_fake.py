"""A fake Vibes Connect (aggregation API, XML) for tests, benches and users'
own tests.

It serves the shapes of spec/PROVIDERS-HTTP.md ("Vibes Connect") over real
HTTP on loopback and, like Vibes, calls back: an ``<mtMessageResponse>``
receipt per message to the ``receiptOption/@callbackUrl`` the send named,
and inbound messages (``<moMessage>``, or the legacy ``<deliver>``) on
request.

    async with VibesFake() as fake:                    # listens on 127.0.0.1
        config = {..., "api_base": fake.base_url, "username": fake.username,
                  "password": fake.password}
        fake.outcome("+13125550123", ["System", "Handset"])
        fake.outcome("+13125550124", ["Carrier"], error_code=9)   # a failed receipt
        fake.fail_next(2, http_status=429)             # throttling (UNCONFIRMED at Vibes)
        fake.reject("+13125550125", http_status=400)
        ...
        await fake.wait_idle()                         # every receipt answered
        await fake.send_inbound(url, "+13125550123", "12345", "STOP")
        await fake.send_inbound(url, "+13125550123", "12345", "hi", legacy=True)

Receipts carry no credentials (Vibes sends none). ``out_of_order`` and
``duplicate_reports`` exercise the gateway's ordering; ``parts`` sends
multipart receipts.
"""

from __future__ import annotations

import base64
import datetime as dt
import os
import re
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from typing import Any
from xml.sax.saxutils import escape, quoteattr

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from byosms.testing.http_fake import HttpFake

__all__ = ["VibesFake"]

_XML = "text/xml; charset=UTF-8"
_DECLARATION = re.compile(rb"<!(?!--|\[CDATA\[)")


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="milliseconds")


def _xml(body: str, status: int = 200) -> Response:
    return Response('<?xml version="1.0" encoding="UTF-8"?>' + body, status_code=status,
                    media_type=_XML)


class VibesFake(HttpFake):
    """See the module docstring."""

    def __init__(self, *, username: str = "vibes-user", password: str | None = None,
                 host: str = "127.0.0.1", auto_reports: bool = True) -> None:
        super().__init__()
        self.host = host
        self.username = username
        self.password = password or os.urandom(12).hex()
        self.auto_reports = auto_reports
        self.out_of_order = False
        self.duplicate_reports = False
        #: Vibes messageId -> the message as sent.
        self.messages: dict[str, dict[str, Any]] = {}
        #: (method, path, body bytes) of every request.
        self.requests: list[tuple[str, str, bytes]] = []
        #: (url, body, our answer's status or None) of every callback sent.
        self.reports: list[tuple[str, bytes, int | None]] = []
        self._outcomes: dict[str, tuple[list[str], int | None, int | None]] = {}
        self._rejects: dict[str, int] = {}
        self._failures: list[tuple[int, str | None]] = []
        self.app = Starlette(routes=[Route("/MessageApi/mt/messages", self._send,
                                           methods=["POST"])])

    # --- behaviour ---------------------------------------------------------------

    def outcome(self, to: str, types: Sequence[str], *, error_code: int | None = None,
                internal_code: int | None = None) -> None:
        """The receipts for messages to ``to`` (E.164; default ["Handset"]):
        receipt types System, Carrier or Handset; with ``error_code`` (or
        ``internal_code``) the last one is an error."""
        self._outcomes[to] = (list(types), error_code, internal_code)

    def reject(self, to: str, *, http_status: int = 400) -> None:
        """Answer sends to ``to`` with this status (Vibes: any non-200 is an error)."""
        self._rejects[to] = http_status

    def fail_next(self, n: int = 1, *, http_status: int = 429,
                  retry_after: str | None = None) -> None:
        """The next ``n`` sends fail so (429 by default: UNCONFIRMED on
        the aggregation API; 5xx are Vibes' documented system errors)."""
        self._failures.extend([(http_status, retry_after)] * n)

    # --- callbacks -----------------------------------------------------------------

    async def post_xml(self, url: str, body: bytes | str, *,
                       headers: dict[str, str] | None = None) -> httpx.Response:
        """POST an XML document as Vibes does (no credentials)."""
        assert self._client is not None, "the fake is not running"
        data = body.encode() if isinstance(body, str) else body
        return await self._client.post(url, content=data,
                                       headers={"Content-Type": _XML, **(headers or {})})

    def receipt_body(self, message_id: str, type_: str, *, error_code: int | None = None,
                     internal_code: int | None = None, part: tuple[int, int] | None = None
                     ) -> bytes:
        """An ``<mtMessageResponse>`` for one message (``part``: (n, of))."""
        m = self.messages[message_id]
        is_error = error_code is not None or internal_code is not None
        multipart = ""
        mid = message_id
        if part is not None:
            mid = f"{message_id}-{part[0]}"
            multipart = (f'<multipart isMultipart="true" originalMessageId="{message_id}" '
                         f'noOfParts="{part[1]}" partNumber="{part[0]}"/>')
        status = (f'<status isError="{"true" if is_error else "false"}">'
                  f'<description>{"Delivery failed" if is_error else "Delivered"}</description>'
                  + (f"<errorCode>{error_code}</errorCode>" if error_code is not None else "")
                  + (f"<internalErrorCode>{internal_code}</internalErrorCode>"
                     if internal_code is not None else "")
                  + "</status>")
        return ('<?xml version="1.0" encoding="UTF-8"?>'
                f'<mtMessageResponse messageId="{mid}" '
                f'submitterMessageId={quoteattr(m["submitterMessageId"])} '
                f'receiptDate="{_now()}">{multipart}<type>{type_}</type>{status}'
                '</mtMessageResponse>').encode()

    async def deliver(self, message_id: str, type_: str, *, error_code: int | None = None,
                      internal_code: int | None = None, part: tuple[int, int] | None = None
                      ) -> httpx.Response:
        """Send one receipt for ``message_id`` now; our answer."""
        url = self.messages[message_id]["callbackUrl"]
        body = self.receipt_body(message_id, type_, error_code=error_code,
                                 internal_code=internal_code, part=part)
        try:
            response = await self.post_xml(url, body)
        except httpx.HTTPError:
            self.reports.append((url, body, None))
            raise
        self.reports.append((url, body, response.status_code))
        return response

    def inbound_body(self, from_: str, to: str, text: str, *, message_id: str | None = None,
                     legacy: bool = False) -> bytes:
        """An MO as Vibes posts it: ``<moMessage>`` or, with ``legacy``, the
        v1 ``<deliver>``."""
        mid = message_id or os.urandom(12).hex()
        if legacy:
            return ('<?xml version="1.0" encoding="UTF-8"?><deliver version="1.0">'
                    f'<source address={quoteattr(from_.lstrip("+"))} carrier="103" type="MDN"/>'
                    f'<destination address={quoteattr(to)} type="SC"/>'
                    f'<message text={quoteattr(text)}/>'
                    f'<transaction id="{os.urandom(6).hex()}"/>'
                    f'<passthrough><param key="moMessageId">{escape(mid)}</param></passthrough>'
                    '</deliver>').encode()
        return ('<?xml version="1.0" encoding="UTF-8"?>'
                f'<moMessage messageId={quoteattr(mid)} receiptDate="{_now()}" attemptNumber="1">'
                f'<source address={quoteattr(from_)} carrier="103" type="MDN"/>'
                f'<destination address={quoteattr(to)} type="SC"/>'
                f'<message>{escape(text)}</message></moMessage>').encode()

    async def send_inbound(self, url: str, from_: str, to: str, text: str, *,
                           message_id: str | None = None, legacy: bool = False,
                           headers: dict[str, str] | None = None) -> httpx.Response:
        """Post ``inbound_body(...)`` to our webhook at ``url``."""
        return await self.post_xml(url, self.inbound_body(from_, to, text, message_id=message_id,
                                                          legacy=legacy), headers=headers)

    async def _reports(self, message_id: str, types: list[str], error_code: int | None,
                       internal_code: int | None) -> None:
        plan: list[tuple[str, bool]] = [(t, i == len(types) - 1) for i, t in enumerate(types)]
        if self.out_of_order:
            plan.reverse()
        if self.duplicate_reports:
            plan = [p for p in plan for _ in (0, 1)]
        for type_, last in plan:
            try:
                await self.deliver(message_id, type_,
                                   error_code=error_code if last else None,
                                   internal_code=internal_code if last else None)
            except httpx.HTTPError:
                pass

    # --- the API ---------------------------------------------------------------------

    def _authorized(self, request: Request) -> bool:
        token = base64.b64encode(f"{self.username}:{self.password}".encode()).decode()
        return request.headers.get("authorization", "") == f"Basic {token}"

    async def _send(self, request: Request) -> Response:
        body = await request.body()
        self.requests.append((request.method, request.url.path, body))
        if not self._authorized(request):
            return Response("Unauthorized", status_code=401,
                            headers={"WWW-Authenticate": 'Basic realm="MessageApi"'})
        if self._failures:
            status, retry_after = self._failures.pop(0)
            r = Response("Too Many Requests" if status == 429 else "System error",
                         status_code=status)
            if retry_after is not None:
                r.headers["Retry-After"] = retry_after
            return r
        if len(body) > 500 * 1024 or _DECLARATION.search(body):
            return Response("Bad request", status_code=400)
        try:
            root = ET.fromstring(body)
        except ET.ParseError:
            return Response("Malformed XML", status_code=400)
        dest, source, text = root.find("destination"), root.find("source"), root.find("text")
        submitter = root.get("submitterMessageId") or ""
        if root.tag != "mtMessage" or dest is None or source is None or text is None \
                or not (text.text or "") or len(submitter) > 40:
            return Response("Invalid mtMessage", status_code=400)
        to = dest.get("address") or ""
        if to in self._rejects:
            return Response(f"Invalid destination {to}", status_code=self._rejects[to])
        receipt = root.find("receiptOption")
        mid = str(uuid.uuid4())
        self.messages[mid] = {
            "submitterMessageId": submitter, "to": to, "source": source.get("address"),
            "sourceType": source.get("type"), "text": text.text or "",
            "splitLongMessage": root.get("splitLongMessage"),
            "receiptOption": (receipt.text or "").strip() if receipt is not None else None,
            "callbackUrl": receipt.get("callbackUrl") if receipt is not None else None,
        }
        if self.messages[mid]["callbackUrl"] and self.auto_reports and self._nursery is not None:
            types, error_code, internal = self._outcomes.get(
                to, (["Handset"], None, None))
            self._schedule(self._reports, mid, types, error_code, internal)
        return _xml(f'<mtMessageRsp messageId="{mid}" submitterMessageId={quoteattr(submitter)} '
                    f'carrier="102" splitLongMessage="{root.get("splitLongMessage") or "false"}"/>')

