"""The kit every HTTP provider stands on (ARCHITECTURE.md, providers/http/).

- ``client``: the pooled REST client with bounded retries (429, 5xx,
  transport errors; Retry-After; a provider hook for throttling in bodies).
- ``webhooks``: the steps of every webhook (404/405/413, authenticate ->
  403, the T4 active gate, dispatch by kind).
- ``ordering``: status callbacks per vendor id never regress and wait for
  their send's result.
- ``dedup``: inbound messages retried by the provider are routed once.
- ``adapter``: ``HttpAdapter``, the parts wired into the Provider contract;
  a provider subclasses it (byosms.providers.twilio is the worked example).
- ``events``: the integration's operational events.
"""

from byosms.providers.http.adapter import HttpAdapter, ProviderInactive
from byosms.providers.http.client import (
    Classification,
    ClientSettings,
    HttpClient,
    HttpTransportError,
    Reply,
    RetryPolicy,
    Verdict,
    retry_after_seconds,
)
from byosms.providers.http.dedup import RecentIds
from byosms.providers.http.events import EventSink
from byosms.providers.http.ordering import Match, StatusOrdering
from byosms.providers.http.webhooks import RejectionReport, Route, WebhookRefused, WebhookSkeleton

__all__ = [
    "Classification",
    "ClientSettings",
    "EventSink",
    "HttpAdapter",
    "HttpClient",
    "HttpTransportError",
    "Match",
    "ProviderInactive",
    "RecentIds",
    "Reply",
    "RetryPolicy",
    "Route",
    "StatusOrdering",
    "Verdict",
    "WebhookRefused",
    "WebhookSkeleton",
    "RejectionReport",
    "retry_after_seconds",
]
