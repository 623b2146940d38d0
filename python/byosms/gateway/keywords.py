"""Keyword compliance (PRODUCT.md N3, N4, S15): HELP / STOP / START handling.

Matching. A message is a keyword only when the WHOLE message is one, after
this normalisation (`normalize`):

1. Unicode NFKC (full-width "ＳＴＯＰ" is "STOP", a no-break space is a space);
2. format characters (Unicode category Cf: zero-width space, BOM, direction
   marks that phones insert) are removed;
3. case folded (`str.casefold`);
4. every run of Unicode whitespace becomes one space; leading and trailing
   whitespace is dropped;
5. one trailing run of punctuation (Unicode category P*: "STOP.", "Stop!",
   "stop!!", "STOP ?") and the whitespace before it are dropped.

So "stop", " Stop ", "STOP ALL", "stop \\t all", "STOP." and "Stop!" all match
STOP / STOP ALL; "stop it", "please stop", ".STOP" and "STOP 🙏" do not. A
keyword is normalised the same way when a number is imported, so custom short
code keywords obey the same rules. (Punctuation is only dropped at the end:
carriers treat "STOP." as STOP, and nothing else.)

Each number's keyword sets are compiled once into one dict from normalised
text to (kind, reply); matching a message is the normalisation (C-speed
string methods only, for ASCII texts) plus one dict lookup.
`matcher_for` caches the compiled form per `Keywords` value.

Effects (`apply_keyword`): opt-out / opt-in are recorded per (sender,
recipient) = (our number, the subscriber) in the store, so they survive a
restart and the store enforces them on every outbound accept (it raises
`byosms.store.OptedOut`). The auto-reply is not sent from here: it becomes an
`OutboundRequest` handed to the pipeline's accept callback, flagged
`compliance_reply` so the opt-out check does not block the opt-out
confirmation itself (`accept_outbound` is the reference accept path: it calls
`store.accept_message(..., check_opt_out=False)` for compliance replies only).
Every keyword match is appended as a `keyword` event for the number's
business unit.
"""

from __future__ import annotations

import functools
import random
import string
import unicodedata
from collections.abc import Awaitable, Callable
from typing import Any, Literal

import msgspec

from byosms.schemas.records import (
    Accepted,
    Keywords,
    Message,
    NewEvent,
    Number,
    Segment,
    new_id,
)

KeywordKind = Literal["help", "opt_out", "opt_in"]
MatchKind = Literal["help", "opt_out", "opt_in", "none"]

#: The ASCII characters of Unicode category P* (string.punctuation also holds
#: symbols, S*: $ + < = > ^ ` | ~, which are not dropped), for the ASCII fast path.
_ASCII_PUNCT = "".join(c for c in string.punctuation if unicodedata.category(c)[0] == "P")
_ASCII_PUNCT_SPACE = _ASCII_PUNCT + " "


def _is_punct(c: str) -> bool:
    return unicodedata.category(c)[0] == "P"


def normalize(text: str) -> str:
    """The form keywords and messages are compared in (see the module docstring)."""
    if text.isascii():
        # NFKC and category Cf do not touch ASCII; casefold == lower there.
        t = " ".join(text.lower().split())
        # Punctuation and the spaces between it, to the end: ": ?" goes whole
        # (stripping one then the other left ":" for a second pass to take).
        return t.rstrip(_ASCII_PUNCT_SPACE)
    t = unicodedata.normalize("NFKC", text)
    t = "".join(c for c in t if unicodedata.category(c) != "Cf")
    t = " ".join(t.casefold().split())
    end = len(t)
    while end and (t[end - 1] == " " or _is_punct(t[end - 1])):
        end -= 1
    return t[:end]


def display_keyword(keyword: str) -> str:
    """A keyword as stored and shown: normalised, upper case ("stop  all." -> "STOP ALL")."""
    return normalize(keyword).upper()


class KeywordMatch(msgspec.Struct, frozen=True):
    """What a message was. `keyword` is the matched keyword (normalised) and
    `reply` the auto-reply text, both None for `none`."""

    kind: MatchKind
    keyword: str | None = None
    reply: str | None = None


NO_MATCH = KeywordMatch("none")


class KeywordMatcher:
    """One number's keyword sets compiled for matching."""

    __slots__ = ("_table",)

    def __init__(self, keywords: Keywords) -> None:
        table: dict[str, KeywordMatch] = {}
        # A keyword listed in two sets (the import refuses that, but records may
        # come from elsewhere) resolves to the first kind here: opt-out wins,
        # because failing to honour a STOP is the costly mistake.
        for kind, words, reply in (
            ("opt_out", keywords.opt_out, keywords.opt_out_reply),
            ("opt_in", keywords.opt_in, keywords.opt_in_reply),
            ("help", keywords.help, keywords.help_reply),
        ):
            for w in words:
                n = normalize(w)
                if n:
                    table.setdefault(n, KeywordMatch(kind, n, reply))  # type: ignore[arg-type]
        self._table = table

    def match(self, text: str) -> KeywordMatch:
        return self._table.get(normalize(text), NO_MATCH)

    def keywords(self) -> dict[str, str]:
        """Normalised keyword -> kind."""
        return {k: m.kind for k, m in self._table.items()}


@functools.lru_cache(maxsize=4096)
def matcher_for(keywords: Keywords) -> KeywordMatcher:
    return KeywordMatcher(keywords)


def match_keyword(number: Number, text: str) -> KeywordMatch:
    """Match an MO text against the keyword sets of the number it was sent to."""
    return matcher_for(number.effective_keywords()).match(text)


# --- effects ---------------------------------------------------------------------


class OutboundRequest(msgspec.Struct, frozen=True, kw_only=True):
    """A message for the outbound pipeline to accept and send. `id` is the
    message id to store it under (chosen up front so events can point at it).
    `compliance_reply` marks a mandatory keyword auto-reply: the pipeline
    accepts it with the opt-out check off (the STOP confirmation goes to a
    recipient who has just opted out) and must not do so for anything else."""

    id: str
    integration: str
    business_unit: str
    source: str
    destination: str
    text: str
    compliance_reply: bool = False
    keyword: KeywordKind | None = None


AcceptCallback = Callable[[OutboundRequest], Awaitable[Any]]


def _reference() -> int:
    return random.getrandbits(8)


async def accept_outbound(store: Any, request: OutboundRequest) -> Accepted:
    """The reference accept path for an `OutboundRequest`: segment the text
    (seed charset chain, 8-bit concatenation reference) and store the message
    and its queued segments. Compliance replies skip the opt-out check; other
    requests to an opted-out recipient raise `byosms.store.OptedOut`."""
    from byosms import _core

    seg = _core.segment(request.text, reference=_reference())
    udhi = 0x40 if seg.udhi else 0
    sar = seg.sar
    segments = [
        Segment(0, "", i, part, udhi, seg.dcs,
                *(sar[i] if sar is not None else (None, None, None)))
        for i, part in enumerate(seg.parts)
    ]
    msg = Message(
        request.id, "mt", request.integration, request.business_unit, request.source,
        request.destination, request.text, seg.encoding, seg.dcs, len(segments),
    )
    return await store.accept_message(
        msg, segments, None, check_opt_out=not request.compliance_reply
    )


class KeywordOutcome(msgspec.Struct, frozen=True):
    """What one MO text did: the match, the auto-reply to queue (None for
    `none`) and the `keyword` event to append (None for `none`)."""

    match: KeywordMatch
    reply: OutboundRequest | None = None
    event: NewEvent | None = None

    @property
    def opt_out_change(self) -> bool | None:
        """True: record an opt-out; False: record an opt-in; None: neither."""
        kind = self.match.kind
        return True if kind == "opt_out" else False if kind == "opt_in" else None


def evaluate(number: Number, subscriber: str, text: str, *,
             integration: str | None = None, message_id: str | None = None) -> KeywordOutcome:
    """The pure part of keyword handling: match `text` (sent by `subscriber`
    to `number`) and build the reply request and the event, writing nothing."""
    m = match_keyword(number, text)
    if m.kind == "none":
        return KeywordOutcome(m)
    kind: KeywordKind = m.kind  # type: ignore[assignment]
    integ = integration or number.integration
    reply = None
    if m.reply:
        reply = OutboundRequest(
            id=new_id("msg_"), integration=integ, business_unit=number.business_unit,
            source=number.number, destination=subscriber, text=m.reply,
            compliance_reply=True, keyword=kind,
        )
    payload: dict[str, Any] = {
        "keyword": kind,
        "matched": m.keyword.upper() if m.keyword else None,
        "from": subscriber,
        "to": number.number,
        "integration": integ,
        "opted_out": kind == "opt_out" if kind != "help" else None,
        "reply_message_id": reply.id if reply is not None else None,
    }
    if message_id is not None:
        payload["message_id"] = message_id
    return KeywordOutcome(m, reply, NewEvent(number.business_unit, "keyword", payload))


async def apply_keyword(store: Any, number: Number, subscriber: str, text: str,
                        accept: AcceptCallback | None = None, *,
                        message_id: str | None = None) -> KeywordOutcome:
    """Match and act: record the opt-out / opt-in, append the `keyword` event
    and queue the auto-reply through `accept` (default: `accept_outbound` on
    `store`). Returns after all three are committed. (The MO handler in
    `byosms.gateway.inbound` does the same together with recording the MO.)"""
    outcome = evaluate(number, subscriber, text, message_id=message_id)
    if outcome.match.kind == "none":
        return outcome
    change = outcome.opt_out_change
    if change is not None:
        await store.set_opt_out(number.number, subscriber, change)
    assert outcome.event is not None
    await store.append_events([outcome.event])
    if outcome.reply is not None:
        if accept is None:
            await accept_outbound(store, outcome.reply)
        else:
            await accept(outcome.reply)
    return outcome


async def is_opted_out(store: Any, sender: str, recipient: str) -> bool:
    """Whether `recipient` opted out of messages from `sender` (S15). The store
    also checks this on every outbound accept (raising OptedOut)."""
    return bool(await store.is_opted_out(sender, recipient))
