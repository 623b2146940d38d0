"""Operational events (PRODUCT.md S17): what happened to an integration's
binds and traffic, with the cause. Stored, queryable and streamed to apps as
`operational` events."""

from __future__ import annotations

from typing import Literal

import msgspec

EventKind = Literal[
    "webhook_rejected",  # a provider webhook failed its signature check (403, nothing routed)
    "webhook_dropped",  # a webhook for a deactivated integration was dropped (T4); counted
    "recipient_opted_out",  # the provider says the recipient opted out (e.g. Twilio 21610)
    "bind_up",  # a bind completed (bound_trx/tx/rx)
    "bind_down",  # a bound session ended (unbind, peer closed, shutdown)
    "bind_failed",  # a bind attempt failed; `cause` says why
    "throttled",  # the SMSC answered ESME_RTHROTTLED / ESME_RMSGQFUL; sending backs off
    "window_full",  # every slot of the outstanding window is in use
    "enquire_link_timeout",  # the peer stopped answering enquire_link
    "delivery_failure",  # a segment failed permanently
    "config_error",  # the configuration can't work (e.g. transmitter-only without receiver)
    "config_warning",  # legal but doubtful configuration
    "protocol_error",  # the peer sent something invalid (answered with generic_nack)
    "inbound_unroutable",  # an MO to a number not in the inventory, or disabled: not routed
    "mo_incomplete",  # a concatenated inbound message timed out with parts missing
    "receipt_timeout",  # segments without a final receipt in the integration's receipt_timeout
    # Lifecycle (S9–S12), written by byosms.gateway.lifecycle for the owning unit:
    "integration_created",
    "integration_updated",  # `detail` names the changed fields, never their values
    "integration_activated",
    "integration_deactivated",
    "integration_restarted",  # re-bind after a credential or connection change (S9)
    "integration_deleted",
]

Cause = Literal[
    "bad_signature",  # missing or wrong webhook signature (T1, T2)
    "deactivated",  # the integration is not active (T4)
    "http_error",  # an HTTP provider answered with an error or not at all
    "auth_failed",  # ESME_RINVPASWD / ESME_RINVSYSID
    "bind_refused",  # ESME_RBINDFAIL or another non-zero bind_resp status
    "tls_failure",  # handshake or certificate verification failed
    "connection_refused",
    "connection_lost",
    "dns_failure",
    "timeout",  # connect, bind or response timeout
    "unbind",  # orderly unbind by either side
    "shutdown",  # we are stopping
    "protocol_error",
    "other",
]


class OperationalEvent(msgspec.Struct, kw_only=True, frozen=True):
    kind: EventKind
    integration: str
    bind: int | None = None
    cause: Cause | None = None
    command_status: int | None = None
    command_status_name: str | None = None
    detail: str = ""
