"""Keyword compliance (issue 6 item 2; PRODUCT.md N3, N4, S15): matching
(examples and hypothesis properties) and its effects on a real SQLite store:
opt-out recorded and enforced across a restart, the confirmation still
accepted, opt-in restoring delivery, keyword events for the owner only."""

from __future__ import annotations

import os
import unicodedata

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from byosms.gateway.keywords import (
    OutboundRequest,
    accept_outbound,
    apply_keyword,
    evaluate,
    is_opted_out,
    match_keyword,
    matcher_for,
    normalize,
)
from byosms.schemas.records import (
    DEFAULT_HELP_REPLY,
    DEFAULT_KEYWORDS,
    DEFAULT_OPT_IN_REPLY,
    DEFAULT_OPT_OUT_REPLY,
    Keywords,
    Number,
    new_id,
)
from byosms.secret import Secret
from byosms.store import OptedOut, open_sqlite_store

LONG = Number("+14155550100", "local", "int_x", "bu1")
SHORT_KW = Keywords(
    help=("AIDE",), help_reply="Acme: aide sur acme.example",
    opt_out=("ARRET", "STOP"), opt_out_reply="Acme: vous etes desabonne",
    opt_in=("GO ACME",), opt_in_reply="Acme: abonne",
)
SHORT = Number("12345", "short_code", "int_x", "bu1", keywords=SHORT_KW)

N3 = [("help", w, DEFAULT_HELP_REPLY) for w in ("HELP", "INFO")] + [
    ("opt_out", w, DEFAULT_OPT_OUT_REPLY)
    for w in ("CANCEL", "END", "QUIT", "STOP", "UNSUBSCRIBE", "STOP ALL", "REVOKE", "OPTOUT")
] + [("opt_in", w, DEFAULT_OPT_IN_REPLY) for w in ("START", "YES", "UNSTOP")]

# --- matching: examples ---------------------------------------------------------------


@pytest.mark.parametrize("kind,word,reply", N3)
def test_every_N3_keyword_and_phrase(kind, word, reply):
    for text in (word, word.lower(), word.title(), f"  {word}\n", f"{word}.", f"{word}!"):
        m = match_keyword(LONG, text)
        assert (m.kind, m.reply) == (kind, reply), text


@pytest.mark.parametrize("text", [
    "stop", " Stop ", "STOP ALL", "stop   all", "Stop\tAll", "STOP.", "Stop!", "stop!!",
    "STOP ?", "\u00a0STOP\u3000", "ＳＴＯＰ", "S\u200bTOP", "\ufeffstop", "stop\u2003all.",
    "sTop\u2029",
])
def test_stop_variants_match(text):
    assert match_keyword(LONG, text).kind == "opt_out"


@pytest.mark.parametrize("text", [
    "stop it", "please stop", "STOPALL", "stop all now", ".STOP", "STOP 🙏", "stop\u00adx",
    "STOPS", "", "   ", "...", "help me", "yes please", "info?!x", "St0p", "START STOP",
])
def test_non_keywords_do_not_match(text):
    assert match_keyword(LONG, text).kind == "none"


def test_short_code_uses_its_own_keywords_only():
    assert match_keyword(SHORT, "arret").kind == "opt_out"
    assert match_keyword(SHORT, "Stop").kind == "opt_out"
    assert match_keyword(SHORT, "go   acme!").kind == "opt_in"
    assert match_keyword(SHORT, "aide").reply == "Acme: aide sur acme.example"
    for default_only in ("HELP", "INFO", "START", "UNSUBSCRIBE", "STOP ALL", "YES"):
        assert match_keyword(SHORT, default_only).kind == "none"


def test_overlapping_sets_resolve_to_opt_out():
    kw = Keywords(help=("STOP",), help_reply="h", opt_out=("STOP",), opt_out_reply="o",
                  opt_in=("STOP",), opt_in_reply="i")
    assert matcher_for(kw).match("stop").kind == "opt_out"


def test_matcher_is_compiled_once_per_keyword_set():
    assert matcher_for(DEFAULT_KEYWORDS) is matcher_for(DEFAULT_KEYWORDS)
    assert set(matcher_for(DEFAULT_KEYWORDS).keywords()) == {normalize(w) for _, w, _ in N3}


# --- matching: properties ----------------------------------------------------------------

SPACES = st.sampled_from([" ", "\t", "\n", "\r", "\u00a0", "\u2003", "\u3000", "\u2028",
                          "\x0b", "\x0c", "\u1680", "\u202f"])
PUNCT = st.sampled_from([".", "!", "?", ",", "…", "。", "！", "¡", ";"])


@st.composite
def disguised(draw, word: str) -> str:
    """`word` with random casing, whitespace around and inside, and maybe a
    trailing punctuation run."""
    def ws(min_size):
        return "".join(draw(st.lists(SPACES, min_size=min_size, max_size=4)))

    parts = []
    for w in word.split(" "):
        parts.append("".join(c.upper() if draw(st.booleans()) else c.lower() for c in w))
    text = ws(0) + ws(1).join(parts)
    if draw(st.booleans()):
        text += ws(0) + "".join(draw(st.lists(PUNCT, min_size=1, max_size=3)))
    return text + ws(0)


@settings(max_examples=300)
@given(st.data())
def test_any_casing_and_whitespace_of_every_default_keyword_matches(data):
    kind, word, reply = data.draw(st.sampled_from(N3))
    text = data.draw(disguised(word))
    m = match_keyword(LONG, text)
    assert (m.kind, m.reply) == (kind, reply), repr(text)


def _letters(text: str) -> str:
    """What is left of a text once everything the normalisation may drop or
    merge is removed: an independent necessary condition for a match."""
    t = unicodedata.normalize("NFKC", text).casefold()
    return "".join(c for c in t if not c.isspace() and unicodedata.category(c)[0] not in "PC")


KEYWORD_LETTERS = {_letters(w) for _, w, _ in N3}


@settings(max_examples=500)
@given(st.text(max_size=40))
def test_random_text_matches_only_if_it_spells_a_keyword(text):
    if match_keyword(LONG, text).kind != "none":
        assert _letters(text) in KEYWORD_LETTERS


@settings(max_examples=300)
@given(st.text(max_size=40))
def test_random_text_with_a_foreign_letter_never_matches(text):
    assume(_letters(text) not in KEYWORD_LETTERS)
    assert match_keyword(LONG, text).kind == "none"


@settings(max_examples=300)
@given(st.data())
def test_a_keyword_with_more_words_never_matches(data):
    _, word, _ = data.draw(st.sampled_from(N3))
    extra = data.draw(st.text(st.characters(categories=("Lu", "Ll", "Nd")), min_size=1,
                              max_size=8))
    before = data.draw(st.booleans())
    text = f"{extra} {word}" if before else f"{word} {extra}"
    assume(normalize(text) not in matcher_for(DEFAULT_KEYWORDS).keywords())  # "stop all"
    assert match_keyword(LONG, data.draw(disguised(text))).kind == "none"


@given(st.text(max_size=30))
def test_normalize_is_idempotent(text):
    assert normalize(normalize(text)) == normalize(text)


# --- effects on the store ---------------------------------------------------------------


@pytest.fixture
def key():
    return os.urandom(32)


async def setup_store(s, bu="bu1", number="+14155550100", type_="local", keywords=None):
    i = await s.create_integration(bu, "smpp", "carrier", {"password": Secret("pw")},
                                   state="active")
    n = await s.add_number(Number(number, type_, i.id, bu, "Support", keywords))
    return i, n


def send(n: Number, to: str, text: str = "offer") -> OutboundRequest:
    return OutboundRequest(id=new_id("msg_"), integration=n.integration,
                           business_unit=n.business_unit, source=n.number, destination=to,
                           text=text)


async def test_opt_out_confirmation_accepted_then_sends_rejected_across_restart(tmp_path, key):
    db = tmp_path / "k.db"
    sub = "+14155559999"
    async with open_sqlite_store(db, key=key) as s:
        i, n = await setup_store(s)
        await accept_outbound(s, send(n, sub))  # before: fine
        out = await apply_keyword(s, n, sub, " Stop ")
        assert out.match.kind == "opt_out"
        reply = out.reply
        assert reply is not None and reply.compliance_reply and reply.keyword == "opt_out"
        assert (reply.source, reply.destination, reply.text) == (n.number, sub,
                                                                 DEFAULT_OPT_OUT_REPLY)
        # The confirmation went through the accept path and is queued to send.
        confirmation = await s.get_message(reply.id)
        assert confirmation is not None and confirmation.state == "queued"
        assert (confirmation.source, confirmation.destination) == (n.number, sub)
        assert confirmation.text == DEFAULT_OPT_OUT_REPLY
        assert len(await s.get_segments(reply.id)) == confirmation.segment_count
        assert await is_opted_out(s, n.number, sub)
        with pytest.raises(OptedOut):
            await accept_outbound(s, send(n, sub))
        # Only that pair: another subscriber, and the same one from another number, are fine.
        await accept_outbound(s, send(n, "+14155558888"))
        assert not await is_opted_out(s, "+14155550199", sub)
    async with open_sqlite_store(db, key=key) as s:  # restart
        assert await is_opted_out(s, n.number, sub)
        with pytest.raises(OptedOut):
            await accept_outbound(s, send(n, sub))
        # A second STOP is confirmed again, even though the recipient is opted out.
        again = await apply_keyword(s, n, sub, "STOP ALL")
        assert (await s.get_message(again.reply.id)).state == "queued"
        # Opt-in restores delivery; its confirmation is accepted too.
        back = await apply_keyword(s, n, sub, "start.")
        assert back.match.kind == "opt_in"
        assert (await s.get_message(back.reply.id)).text == DEFAULT_OPT_IN_REPLY
        assert not await is_opted_out(s, n.number, sub)
        acc = await accept_outbound(s, send(n, sub))
        assert not acc.duplicate and acc.message.state == "queued"
    async with open_sqlite_store(db, key=key) as s:  # and the opt-in survives a restart too
        assert not await is_opted_out(s, n.number, sub)


async def test_help_reply_changes_nothing_and_plain_text_does_nothing(tmp_path, key):
    async with open_sqlite_store(tmp_path / "k.db", key=key) as s:
        i, n = await setup_store(s)
        out = await apply_keyword(s, n, "+14155559999", "info")
        assert out.match.kind == "help" and out.reply.text == DEFAULT_HELP_REPLY
        assert out.opt_out_change is None
        assert not await is_opted_out(s, n.number, "+14155559999")
        events = await s.events_after("bu1", 0, 10)
        assert [(e.type, e.payload["keyword"]) for e in events] == [("keyword", "help")]
        none = await apply_keyword(s, n, "+14155559999", "stop it")
        assert none.match.kind == "none" and none.reply is None and none.event is None
        assert len(await s.events_after("bu1", 0, 10)) == 1


async def test_short_code_custom_keywords_and_replies(tmp_path, key):
    async with open_sqlite_store(tmp_path / "k.db", key=key) as s:
        i, n = await setup_store(s, number="12345", type_="short_code", keywords=SHORT_KW)
        sub = "+14155559999"
        out = await apply_keyword(s, n, sub, "Arret")
        assert out.reply.text == "Acme: vous etes desabonne"
        assert await is_opted_out(s, "12345", sub)
        assert (await apply_keyword(s, n, sub, "START")).match.kind == "none"
        assert await is_opted_out(s, "12345", sub)  # START is not this short code's opt-in
        out = await apply_keyword(s, n, sub, "go acme")
        assert out.reply.text == "Acme: abonne"
        assert not await is_opted_out(s, "12345", sub)


async def test_keyword_events_visible_to_the_owner_only(tmp_path, key):
    async with open_sqlite_store(tmp_path / "k.db", key=key) as s:
        _, n1 = await setup_store(s, bu="bu1", number="+14155550100")
        _, n2 = await setup_store(s, bu="bu2", number="+14155550101")
        await apply_keyword(s, n1, "+14155559999", "STOP")
        ev1 = await s.events_after("bu1", 0, 10)
        assert [e.type for e in ev1] == ["keyword"]
        p = ev1[0].payload
        assert (p["keyword"], p["matched"], p["from"], p["to"], p["opted_out"]) == (
            "opt_out", "STOP", "+14155559999", n1.number, True)
        assert p["reply_message_id"]
        assert await s.events_after("bu2", 0, 10) == []
        await apply_keyword(s, n2, "+14155559999", "yes")
        assert [e.payload["keyword"] for e in await s.events_after("bu2", 0, 10)] == ["opt_in"]
        assert len(await s.events_after("bu1", 0, 10)) == 1


async def test_a_custom_accept_callback_gets_the_reply_request(tmp_path, key):
    async with open_sqlite_store(tmp_path / "k.db", key=key) as s:
        _, n = await setup_store(s)
        got = []

        async def accept(req):
            got.append(req)

        out = await apply_keyword(s, n, "+14155559999", "quit", accept)
        assert got == [out.reply] and got[0].compliance_reply
        assert await s.get_message(out.reply.id) is None  # the callback owns sending


def test_evaluate_is_pure():
    out = evaluate(LONG, "+14155559999", "UNSUBSCRIBE")
    assert out.match.kind == "opt_out" and out.opt_out_change is True
    assert out.event.business_unit == "bu1" and out.event.type == "keyword"
    assert evaluate(LONG, "+14155559999", "unstop").opt_out_change is False


async def test_long_custom_reply_is_queued_as_a_concatenated_message(tmp_path, key):
    long_reply = "Acme alerts: you are unsubscribed and will get no more messages. " * 3
    kw = msgspec_replace(SHORT_KW, opt_out_reply=long_reply)
    async with open_sqlite_store(tmp_path / "k.db", key=key) as s:
        _, n = await setup_store(s, number="54321", type_="short_code", keywords=kw)
        out = await apply_keyword(s, n, "+14155559999", "STOP")
        msg = await s.get_message(out.reply.id)
        segs = await s.get_segments(out.reply.id)
        assert msg.text == long_reply and msg.segment_count == len(segs) == 2
        assert all(seg.esm_class & 0x40 for seg in segs)  # UDH concatenation


def msgspec_replace(struct, **changes):
    import msgspec

    return msgspec.structs.replace(struct, **changes)
