"""Number import (issue 6 item 1; PRODUCT.md N1–N6, S14, D4, D5) on a real SQLite store."""

from __future__ import annotations

import os

import pytest
import trio
import trio.testing

from byosms.gateway.numbers import (
    ERROR_CODES,
    AlreadyInInventory,
    AlreadyProvisioned,
    CountryMismatch,
    ImportRequest,
    IntegrationNotFound,
    InvalidComplianceKeywords,
    InvalidSenderIdType,
    MissingComplianceKeywords,
    MissingSenderId,
    NotFoundAtVendor,
    NumberImportError,
    NumberInventory,
    ProvisioningInProgress,
    canonical_address,
    validate_sender_id,
)
from byosms.schemas.records import DEFAULT_KEYWORDS, Keywords
from byosms.secret import Secret
from byosms.store import open_sqlite_store

SHORT_KW = Keywords(
    help=("HELP", "AIDE"), help_reply="Acme alerts: help at acme.example. Msg&data rates may apply.",
    opt_out=("STOP", "ARRET", "stop  all"), opt_out_reply="Acme alerts: unsubscribed.",
    opt_in=("START", "JOIN"), opt_in_reply="Acme alerts: subscribed. Reply STOP to stop.",
)


@pytest.fixture
async def store(tmp_path):
    async with open_sqlite_store(tmp_path / "n.db", key=os.urandom(32)) as s:
        yield s


async def integ(store, bu="bu1", provider="smpp", state="active"):
    return await store.create_integration(
        bu, provider, "carrier", {"host": "smsc.example", "password": Secret("pw")}, state=state)


def req(i, sender_id, type, **kw):
    return ImportRequest(integration=i.id, sender_id=sender_id, type=type, **kw)


# --- every type -----------------------------------------------------------------------


async def test_import_each_type_carries_display_name_unit_and_type(store):
    i = await integ(store)
    inv = NumberInventory(store)
    cases = [
        (req(i, "+1 415-555-0100", "local", country="US", display_name=" Support "),
         "+14155550100", "local", None),
        (req(i, "+33612345678", "mobile", country="fr"), "+33612345678", "mobile", None),
        (req(i, "+18005550199", "toll_free"), "+18005550199", "toll_free", None),
        (req(i, "12345", "short_code", country="US", keywords=SHORT_KW), "12345", "short_code",
         "kw"),
        (req(i, "ACME Ltd", "alphanumeric"), "ACME Ltd", "alphanumeric", None),
    ]
    for r, number, type_, kw in cases:
        n = await inv.import_number("bu1", r)
        assert (n.number, n.type, n.business_unit, n.integration) == (number, type_, "bu1", i.id)
        stored = await store.get_number(number)
        assert stored is not None and stored.type == type_ and stored.business_unit == "bu1"
        if kw is None:
            assert stored.keywords is None  # the N3 defaults
            assert stored.effective_keywords() == DEFAULT_KEYWORDS
        else:
            assert stored.keywords is not None
            assert stored.keywords.opt_out == ("STOP", "ARRET", "STOP ALL")  # normalised
    assert (await store.get_number("+14155550100")).display_name == "Support"
    assert [n.number for n in await store.list_numbers(business_unit="bu1")] == sorted(
        c[1] for c in cases)


async def test_long_codes_get_exactly_the_N3_defaults():
    assert DEFAULT_KEYWORDS.help == ("HELP", "INFO")
    assert set(DEFAULT_KEYWORDS.opt_out) == {
        "CANCEL", "END", "QUIT", "STOP", "UNSUBSCRIBE", "STOP ALL", "REVOKE", "OPTOUT"}
    assert DEFAULT_KEYWORDS.opt_in == ("START", "YES", "UNSTOP")
    assert DEFAULT_KEYWORDS.help_reply == "Reply STOP to unsubscribe. Msg & Data Rates May Apply."
    assert DEFAULT_KEYWORDS.opt_out_reply == (
        "You have successfully been unsubscribed. You will not receive any more messages from "
        "this number. Reply START to resubscribe.")
    assert DEFAULT_KEYWORDS.opt_in_reply == (
        "You have successfully been re-subscribed to messages from this number. Reply HELP for "
        "help. Reply STOP to unsubscribe. Msg & Data Rates May Apply.")


# --- each N5 error code ------------------------------------------------------------------


def test_error_codes_are_distinct_and_stable():
    assert set(ERROR_CODES) == {
        "missing_sender_id", "missing_compliance_keywords", "invalid_compliance_keywords",
        "invalid_sender_id_type", "country_mismatch", "provisioning_in_progress",
        "already_provisioned", "already_in_inventory", "not_found_at_vendor",
        "integration_not_found", "vendor_unavailable"}
    for code, cls in ERROR_CODES.items():
        assert issubclass(cls, NumberImportError) and cls.code == code


@pytest.mark.parametrize("sender_id", [None, "", "   "])
async def test_missing_sender_id(store, sender_id):
    i = await integ(store)
    with pytest.raises(MissingSenderId) as e:
        await NumberInventory(store).import_number(
            "bu1", ImportRequest(integration=i.id, sender_id=sender_id, type="local"))
    assert e.value.code == "missing_sender_id"
    assert str(e.value) == "Please check the integration for BYO sender ID"
    assert await store.list_numbers() == []


@pytest.mark.parametrize("keywords", [
    None,
    Keywords(help=(), help_reply="h", opt_out=("STOP",), opt_out_reply="o", opt_in=("START",),
             opt_in_reply="i"),
    Keywords(help=("HELP",), help_reply="h", opt_out=("  ",), opt_out_reply="o",
             opt_in=("START",), opt_in_reply="i"),
    Keywords(help=("HELP",), help_reply="h", opt_out=("STOP",), opt_out_reply="o",
             opt_in=(), opt_in_reply="i"),
    Keywords(help=("HELP",), help_reply="", opt_out=("STOP",), opt_out_reply="o",
             opt_in=("START",), opt_in_reply="i"),
    Keywords(help=("HELP",), help_reply="h", opt_out=("STOP",), opt_out_reply=" ",
             opt_in=("START",), opt_in_reply="i"),
    Keywords(help=("HELP",), help_reply="h", opt_out=("STOP",), opt_out_reply="o",
             opt_in=("START",), opt_in_reply=""),
])
async def test_short_code_without_keywords_or_messages(store, keywords):
    i = await integ(store)
    with pytest.raises(MissingComplianceKeywords) as e:
        await NumberInventory(store).import_number(
            "bu1", req(i, "12345", "short_code", country="US", keywords=keywords))
    assert e.value.code == "missing_compliance_keywords"
    assert await store.get_number("12345") is None


@pytest.mark.parametrize("keywords,type_", [
    (Keywords(help=("HELP",), help_reply="h", opt_out=("STOP", "help."), opt_out_reply="o",
              opt_in=("START",), opt_in_reply="i"), "short_code"),
    (Keywords(help=("HELP", "!!"), help_reply="h", opt_out=("STOP",), opt_out_reply="o",
              opt_in=("START",), opt_in_reply="i"), "short_code"),
    (SHORT_KW, "local"),  # long codes get the N3 defaults, not their own
])
async def test_unusable_keywords(store, keywords, type_):
    i = await integ(store)
    sender = "12345" if type_ == "short_code" else "+14155550100"
    with pytest.raises(InvalidComplianceKeywords):
        await NumberInventory(store).import_number(
            "bu1", req(i, sender, type_, country="US", keywords=keywords))


@pytest.mark.parametrize("sender_id,type_,country", [
    ("4155550100", "local", "US"),  # no + : not E.164
    ("+1415555010012345678", "mobile", None),  # too long
    ("+1 415 555 01", "local", None),  # not a valid number
    ("+18005550199", "local", None),  # toll-free range declared local
    ("+14155550100", "toll_free", None),  # geographic declared toll-free
    ("+33612345678", "local", None),  # French mobile declared local
    ("+33142685300", "mobile", None),  # French fixed line declared mobile
    ("1234", "short_code", "US"),
    ("1234567", "short_code", "US"),
    ("+12345", "short_code", "US"),
    ("12 345", "short_code", "US"),
    ("A" * 12, "alphanumeric", None),
    ("12345", "alphanumeric", None),  # no letter
    ("ACME-1", "alphanumeric", None),  # not a letter, digit or space
    ("Ω€", "alphanumeric", None),
    ("ACME", "long_code", None),  # not a type at all
])
async def test_invalid_sender_id_type(store, sender_id, type_, country):
    i = await integ(store)
    with pytest.raises(InvalidSenderIdType) as e:
        await NumberInventory(store).import_number(
            "bu1", req(i, sender_id, type_, country=country,
                       keywords=SHORT_KW if type_ == "short_code" else None))
    assert e.value.code == "invalid_sender_id_type"
    assert await store.list_numbers() == []


@pytest.mark.parametrize("sender_id,type_,country", [
    ("+16135550123", "local", "US"),  # Ottawa is in CA
    ("+14155550100", "local", "CA"),
    ("+33612345678", "mobile", "DE"),
    ("+14155550100", "local", "XX"),  # not a country
    ("12345", "short_code", None),  # a short code needs its country
    ("12345", "short_code", "ZZ"),
])
async def test_country_mismatch(store, sender_id, type_, country):
    i = await integ(store)
    with pytest.raises(CountryMismatch) as e:
        await NumberInventory(store).import_number(
            "bu1", req(i, sender_id, type_, country=country,
                       keywords=SHORT_KW if type_ == "short_code" else None))
    assert e.value.code == "country_mismatch"


async def test_provisioning_in_progress_per_number(store):
    i = await integ(store, provider="twilio")
    release = trio.Event()
    calls = []

    async def check(integration, number, type_):
        calls.append(number)
        await release.wait()
        return "found"

    inv = NumberInventory(store, vendor_checks={"twilio": check})
    results = []

    async def first():
        results.append(await inv.import_number("bu1", req(i, "+14155550100", "local")))

    async with trio.open_nursery() as nursery:
        nursery.start_soon(first)
        await trio.testing.wait_all_tasks_blocked()
        assert inv.in_progress("+14155550100")
        with pytest.raises(ProvisioningInProgress) as e:
            # The same number spelled differently is the same number.
            await inv.import_number("bu1", req(i, "+1 (415) 555-0100", "local"))
        assert e.value.code == "provisioning_in_progress"
        # Another number is not blocked by it.
        other = trio.Event()

        async def second():
            await inv.import_number("bu1", req(i, "+14155550101", "local"))
            other.set()

        nursery.start_soon(second)
        await trio.testing.wait_all_tasks_blocked()
        release.set()
        with trio.fail_after(30):
            await other.wait()
    assert results[0].number == "+14155550100"
    assert not inv.in_progress("+14155550100")
    with pytest.raises(AlreadyInInventory):  # guard released; now it's simply there
        await inv.import_number("bu1", req(i, "+14155550100", "local"))


async def test_guard_released_after_a_failed_import(store):
    i = await integ(store, provider="twilio")

    async def check(integration, number, type_):
        return "not_found"

    inv = NumberInventory(store, vendor_checks={"twilio": check})
    for _ in range(2):
        with pytest.raises(NotFoundAtVendor):
            await inv.import_number("bu1", req(i, "+14155550100", "local"))
    assert not inv.in_progress("+14155550100")


async def test_already_provisioned_in_another_business_unit(store):
    a = await integ(store, bu="bu1")
    b = await integ(store, bu="bu2")
    inv = NumberInventory(store)
    await inv.import_number("bu1", req(a, "+14155550100", "local", display_name="A"))
    with pytest.raises(AlreadyProvisioned) as e:
        await inv.import_number("bu2", req(b, "+14155550100", "local"))
    assert e.value.code == "already_provisioned"
    assert "bu1" not in str(e.value) and a.id not in str(e.value)  # D4: nothing about the owner
    with pytest.raises(AlreadyInInventory) as e2:
        await inv.import_number("bu1", req(a, "+14155550100", "mobile"))
    assert e2.value.code == "already_in_inventory"
    n = await store.get_number("+14155550100")
    assert (n.business_unit, n.display_name, n.type) == ("bu1", "A", "local")


@pytest.mark.parametrize("result,reason", [("not_found", "not_found"),
                                           ("webhook_wrong", "webhook_wrong")])
async def test_not_found_at_vendor(store, result, reason):
    i = await integ(store, provider="twilio")
    seen = []

    async def check(integration, number, type_):
        seen.append((integration.id, number, type_))
        return result

    inv = NumberInventory(store, vendor_checks={"twilio": check})
    with pytest.raises(NotFoundAtVendor) as e:
        await inv.import_number("bu1", req(i, "+14155550100", "mobile"))
    assert e.value.code == "not_found_at_vendor" and e.value.reason == reason
    assert e.value.to_dict()["reason"] == reason
    assert seen == [(i.id, "+14155550100", "mobile")]
    assert await store.get_number("+14155550100") is None
    # found -> imported
    inv.set_vendor_check("twilio", lambda *_: _found())
    assert (await inv.import_number("bu1", req(i, "+14155550100", "mobile"))).type == "mobile"


async def _found():
    return "found"


async def test_smpp_has_no_vendor_check(store):
    i = await integ(store, provider="smpp")

    async def never(*_):
        raise AssertionError("SMPP numbers are not checked at the vendor")

    inv = NumberInventory(store, vendor_checks={"twilio": never})
    await inv.import_number("bu1", req(i, "+14155550100", "local"))


async def test_integration_of_another_unit_deleted_or_unknown(store):
    mine = await integ(store, bu="bu1")
    theirs = await integ(store, bu="bu2")
    gone = await integ(store, bu="bu1")
    await store.set_integration_state(gone.id, "deleted")
    inv = NumberInventory(store)
    for i in (theirs, gone):
        with pytest.raises(IntegrationNotFound):
            await inv.import_number("bu1", req(i, "+14155550100", "local"))
    with pytest.raises(IntegrationNotFound):
        await inv.import_number("bu1", ImportRequest(integration="int_nope",
                                                     sender_id="+14155550100", type="local"))
    assert await store.list_numbers() == []
    # An inactive integration can be given numbers (D7); the import changes nothing else (N6).
    inactive = await integ(store, state="inactive")
    await inv.import_number("bu1", req(inactive, "+14155550100", "local"))
    assert (await store.get_integration(inactive.id)).state == "inactive"
    assert (await store.get_integration(mine.id)) == mine


def test_canonical_forms():
    assert validate_sender_id("+44 20 7946 0018", "local", "GB") == "+442079460018"
    assert validate_sender_id(" 123456 ", "short_code", "gb") == "123456"
    assert canonical_address("14155550100") == "+14155550100"
    assert canonical_address("+14155550100") == "+14155550100"
    assert canonical_address("12345") == "12345"
    assert canonical_address("ACME") == "ACME"
