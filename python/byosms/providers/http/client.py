"""The REST client of an HTTP provider: one pooled ``httpx.AsyncClient`` per
integration, every request bounded in time and retried where a retry can help.

    client = HttpClient(ClientSettings.of(config, base_url=config.api_base),
                        events=sink, auth=httpx.BasicAuth(user, key),
                        classify=read_error_body)
    reply = await client.request("POST", "/v1/messages", data=form)
    if reply.ok: ...            # reply.response, reply.attempts

Retry rules (docs/providers.md, "HTTP kit"): HTTP 429, any 5xx and transport
errors (refused, reset, no answer within ``request_timeout``) are retried
with exponential back-off (``backoff``, doubled per retry, capped at
``max_backoff``); a ``Retry-After`` header (delta-seconds or an HTTP date)
replaces the back-off of that retry, capped the same way; at most
``max_attempts`` attempts. Other 4xx are the request's own fault and are
answered at once. A provider that signals throttling or a transient failure
in the body of another status (Twilio: error 20429 in a 4xx) says so through
``classify``. Every throttled answer is counted and reported as a
``throttled`` event, so operators see a provider pushing back before
messages fail.

A request that timed out or lost its connection may have been acted on by
the provider: retrying it may send a message twice. The kit retries anyway
(a duplicate SMS is preferred to a lost one, as for SMPP); providers with an
idempotency key should send one.
"""

from __future__ import annotations

import email.utils
import math
import time
from collections.abc import Awaitable, Callable
from datetime import timezone
from typing import Any, Literal

import httpx
import msgspec
import trio

from byosms.providers.http.events import EventSink

__all__ = [
    "Classification",
    "ClientSettings",
    "HttpClient",
    "HttpTransportError",
    "Reply",
    "RetryPolicy",
    "Verdict",
    "retry_after_seconds",
]

#: What a response means for the request: done, or worth another attempt.
#: "throttled" and "retryable" are retried alike; "throttled" is also
#: counted and reported (the provider is pushing back).
Verdict = Literal["ok", "throttled", "retryable", "permanent"]


class Classification(msgspec.Struct, frozen=True, kw_only=True):
    """A provider's reading of a response (``HttpClient(classify=)``).

    ``verdict`` None leaves it to the HTTP status (2xx ok, 429 throttled,
    5xx retryable, anything else permanent). ``vendor_code`` / ``message``
    are the provider's error code and text from the body, carried on the
    ``Reply`` and in ``throttled`` events so the body is read once."""

    verdict: Verdict | None = None
    vendor_code: int | None = None
    message: str = ""


class RetryPolicy(msgspec.Struct, frozen=True, kw_only=True):
    max_attempts: int = 5
    #: Pause before the 2nd attempt when the provider gives no Retry-After;
    #: doubled for each further attempt, never above ``max_backoff``.
    backoff: float = 1.0
    max_backoff: float = 30.0

    def delay(self, retry: int) -> float:
        """The back-off before retry number ``retry`` (1 = the 2nd attempt)."""
        return min(self.backoff * 2 ** (retry - 1), self.max_backoff)


class ClientSettings(msgspec.Struct, frozen=True, kw_only=True):
    base_url: str
    #: Limit for opening a connection (DNS, TCP, TLS).
    connect_timeout: float = 10.0
    #: Limit for one attempt as a whole, waiting for a pooled connection
    #: included: httpx's own timeouts are per read/write, so a provider
    #: trickling bytes could otherwise hold a request for ever.
    request_timeout: float = 30.0
    #: Connections to the provider at once (the pool; further requests
    #: wait for a free one). Also what the gateway may keep in flight.
    max_connections: int = 10
    retry: RetryPolicy = RetryPolicy()

    @classmethod
    def of(cls, config: Any, *, base_url: str) -> ClientSettings:
        """The settings of a provider configuration that uses the kit's
        field names (``connect_timeout``, ``request_timeout``,
        ``max_connections``, ``max_attempts``, ``backoff``, ``max_backoff``),
        defaults for those it lacks."""
        d, r = cls(base_url=base_url), RetryPolicy()
        return cls(
            base_url=base_url,
            connect_timeout=getattr(config, "connect_timeout", d.connect_timeout),
            request_timeout=getattr(config, "request_timeout", d.request_timeout),
            max_connections=getattr(config, "max_connections", d.max_connections),
            retry=RetryPolicy(
                max_attempts=getattr(config, "max_attempts", r.max_attempts),
                backoff=getattr(config, "backoff", r.backoff),
                max_backoff=getattr(config, "max_backoff", r.max_backoff),
            ),
        )


class Reply(msgspec.Struct, frozen=True, kw_only=True):
    """The final response of a request and how many attempts it took."""

    response: httpx.Response
    attempts: int
    verdict: Verdict
    vendor_code: int | None = None
    message: str = ""

    @property
    def ok(self) -> bool:
        return self.verdict == "ok"

    @property
    def status(self) -> int:
        return self.response.status_code


class HttpTransportError(Exception):
    """No response at all, on every attempt (connection refused or lost,
    no answer within ``request_timeout``). ``timed_out``: the last attempt
    ran out of time."""

    def __init__(self, detail: str, *, attempts: int, timed_out: bool = False) -> None:
        super().__init__(detail)
        self.detail = detail
        self.attempts = attempts
        self.timed_out = timed_out


def retry_after_seconds(value: str | None, *, now: float | None = None) -> float | None:
    """Seconds a ``Retry-After`` value asks for (RFC 9110 10.2.3:
    delay-seconds or an HTTP date), never negative; None when absent or
    unreadable (the back-off applies then). ``now``: the wall clock, for
    dates (default ``time.time()``)."""
    if value is None or not value.strip():
        return None
    value = value.strip()
    try:
        # Tolerant: some servers send "1.5" or "-1"; inf/nan are not delays.
        seconds = float(value)
    except ValueError:
        pass
    else:
        return max(seconds, 0.0) if math.isfinite(seconds) else None
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when.tzinfo is None:  # "-0000": UTC with no claim about local time
        when = when.replace(tzinfo=timezone.utc)
    return max(when.timestamp() - (time.time() if now is None else now), 0.0)


def _by_status(status: int) -> Verdict:
    if 200 <= status < 300:
        return "ok"
    if status == 429:
        return "throttled"
    if status >= 500:
        return "retryable"
    return "permanent"


class HttpClient:
    """See the module docstring. ``transport`` replaces httpx's network
    transport (tests: ``ProviderRuntime.http_transport``); ``sleep`` the
    pause between attempts (tests record it instead of waiting). ``stats``
    is the integration's counter dict: ``requests`` (attempts sent),
    ``retries``, ``throttled``, ``transport_errors``."""

    def __init__(
        self,
        settings: ClientSettings,
        *,
        events: EventSink,
        stats: dict[str, int] | None = None,
        auth: httpx.Auth | tuple[str, str] | None = None,
        headers: dict[str, str] | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        classify: Callable[[httpx.Response], Classification | None] | None = None,
        sleep: Callable[[float], Awaitable[Any]] = trio.sleep,
    ) -> None:
        self.settings = settings
        self.retry = settings.retry
        self._events = events
        self._classify = classify
        self._sleep = sleep
        self.stats = stats if stats is not None else {}
        for key in ("requests", "retries", "throttled", "transport_errors"):
            self.stats.setdefault(key, 0)
        n = settings.max_connections
        self._client = httpx.AsyncClient(
            base_url=settings.base_url,
            auth=auth,
            headers={"User-Agent": "byosms", **(headers or {})},
            # Per-operation limits under the whole-attempt one (request()).
            timeout=httpx.Timeout(settings.request_timeout, connect=settings.connect_timeout),
            limits=httpx.Limits(max_connections=n, max_keepalive_connections=n),
            transport=transport,
        )

    @property
    def max_connections(self) -> int:
        return self.settings.max_connections

    @property
    def is_closed(self) -> bool:
        return self._client.is_closed

    async def aclose(self) -> None:
        await self._client.aclose()

    async def request(self, method: str, url: str, **kwargs: Any) -> Reply:
        """Send ``method url`` (``params=``, ``data=``, ``json=``,
        ``content=``, ``headers=`` as httpx takes them) under the retry
        rules. Returns the last response, whatever its status; raises
        HttpTransportError when no attempt got one."""
        retry = self.retry
        attempt = 0
        while True:
            attempt += 1
            last = attempt >= retry.max_attempts
            self.stats["requests"] += 1
            try:
                response = await self._attempt(method, url, kwargs)
            except HttpTransportError as e:
                self.stats["transport_errors"] += 1
                if last:
                    raise HttpTransportError(
                        f"{method} {url}: {e.detail} (after {attempt} attempt(s))",
                        attempts=attempt, timed_out=e.timed_out,
                    ) from e.__cause__
                await self._pause(retry.delay(attempt))
                continue
            c = self._classify(response) if self._classify is not None else None
            verdict = (c.verdict if c is not None else None) or _by_status(response.status_code)
            code = c.vendor_code if c is not None else None
            message = c.message if c is not None else ""
            retrying = verdict in ("throttled", "retryable") and not last
            delay = 0.0
            if retrying:
                after = retry_after_seconds(response.headers.get("retry-after"))
                delay = min(after, retry.max_backoff) if after is not None else retry.delay(attempt)
            if verdict == "throttled":
                self.stats["throttled"] += 1
                self._events(
                    "throttled", "http_error",
                    f"{method} {url}: HTTP {response.status_code}"
                    + (f" code {code}" if code is not None else "")
                    + (f": {message}" if message else "")
                    + (f"; attempt {attempt + 1} in {delay:g}s" if retrying
                       else f"; gave up after {attempt} attempt(s)"),
                    code,
                )
            if not retrying:
                return Reply(response=response, attempts=attempt, verdict=verdict, vendor_code=code, message=message)
            await self._pause(delay)

    async def _pause(self, delay: float) -> None:
        self.stats["retries"] += 1
        await self._sleep(delay)

    async def _attempt(self, method: str, url: str, kwargs: dict[str, Any]) -> httpx.Response:
        timeout = self.settings.request_timeout
        with trio.move_on_after(timeout):
            try:
                # Not streamed: the body is read here, inside the deadline,
                # and the connection goes back to the pool.
                return await self._client.request(method, url, **kwargs)
            except httpx.TimeoutException as e:
                raise HttpTransportError(f"{type(e).__name__}: {e}", attempts=1, timed_out=True) from e
            except httpx.RequestError as e:
                raise HttpTransportError(f"{type(e).__name__}: {e}", attempts=1) from e
        raise HttpTransportError(f"no answer within {timeout:g}s", attempts=1, timed_out=True)
