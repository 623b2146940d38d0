"""Integration lifecycle (S5, S7, S9–S12, D3, D4) against a real SQLite file
and the in-memory runtime."""

import os

import pytest

from byosms.gateway import lifecycle as lc
from byosms.gateway.lifecycle import IntegrationLifecycle
from byosms.schemas.records import Message, Number, Segment
from byosms.secret import Secret
from byosms.store import open_sqlite_store
from byosms.testing import FakeRuntime

SMPP = {"host": "smsc.example", "system_id": "acme", "password": "s3cr3tpw"}
TWILIO = {
    "account_sid": "AC" + "0" * 32,
    "auth_token": "tok-very-secret",
    "public_base_url": "https://gw.example/base/",
}


@pytest.fixture
async def env(tmp_path):
    async with open_sqlite_store(str(tmp_path / "g.db"), key=os.urandom(32)) as store:
        rt = FakeRuntime()
        yield store, rt, IntegrationLifecycle(store, rt)


async def kinds(store, bu="acme"):
    return [e.payload["kind"] for e in await store.events_after(bu, 0, 1000)
            if e.type == "operational"]


async def queue_message(store, integ, n=1):
    segs = [Segment(0, "", i, b"part%d" % i) for i in range(n)]
    msg = Message("", "mt", integ.id, integ.business_unit, "+14155550100", "+14155550199",
                  "hi", "gsm", 0, n)
    return (await store.accept_message(msg, segs)).message


async def test_create_smpp_stores_secret_encrypted_and_reports(env):
    store, rt, life = env
    info = await life.create("acme", "smpp", "carrier", {**SMPP, "bind_type": "transmitter"})
    integ = info.integration
    assert integ.state == "inactive" and integ.provider == "smpp"
    assert "password" not in integ.config and integ.secret_fields == ("password",)
    assert (await store.reveal_secrets(integ.id))["password"] == Secret("s3cr3tpw")
    assert info.public_config()["password"] == lc.MASK
    assert info.callback_urls is None
    assert any("transmitter" in w for w in info.warnings)  # S5
    assert "port" not in integ.config  # defaults stay implicit
    assert await kinds(store) == ["integration_created", "config_warning"]
    assert rt.calls == []
    # and the warning is still reported on a later read
    assert any("transmitter" in w for w in (await life.get("acme", integ.id)).warnings)


async def test_create_twilio_gives_callback_urls(env):
    store, rt, life = env
    info = await life.create("acme", "twilio", "tw", TWILIO, activate=True)
    iid = info.integration.id
    assert info.callback_urls.inbound == f"https://gw.example/base/vendors/v1/twilio/{iid}/mo"
    assert info.callback_urls.status == f"https://gw.example/base/vendors/v1/twilio/{iid}/status"
    assert info.integration.state == "active" and rt.running == {iid}
    assert "auth_token" not in info.integration.config


@pytest.mark.parametrize("config, field", [
    ({**SMPP, "port": 0}, "port"),
    ({**SMPP, "source_npi": 2}, "source_npi"),
    ({**SMPP, "bogus": 1}, "bogus"),
    ({"host": "h", "password": "x"}, "system_id"),
    ({**SMPP, "messages_per_second": 101}, "messages_per_second"),
])
async def test_bad_config_names_the_field(env, config, field):
    store, rt, life = env
    with pytest.raises(lc.InvalidConfig) as e:
        await life.create("acme", "smpp", "c", config)
    assert e.value.field == field and e.value.code == "invalid_config"
    assert await store.list_integrations("acme") == []


async def test_bad_advanced_config_names_the_key_path(env):
    store, rt, life = env
    bad = {"protocolSpecificCodeMapping": {"88": {"genericErrorCode": "x",
                                                  "genericErrorCause": "throttled"}}}
    with pytest.raises(lc.InvalidAdvancedConfig) as e:
        await life.create("acme", "smpp", "c", {**SMPP, "advanced_config": bad})
    assert e.value.field == 'advanced_config.protocolSpecificCodeMapping["88"].genericErrorCode'
    assert e.value.code == "invalid_advanced_config"
    assert str(e.value).startswith('advanced_config.protocolSpecificCodeMapping["88"]')
    with pytest.raises(lc.InvalidAdvancedConfig) as e:
        await life.create("acme", "smpp", "c",
                          {**SMPP, "advanced_config": {"charsets": [{"dcs": 0, "charset": "nope"}]}})
    assert e.value.field.startswith("advanced_config.charsets[0]")
    # a good one is accepted and kept
    good = {"charsets": [{"dcs": 8, "charset": "ucs2"}]}
    info = await life.create("acme", "smpp", "c", {**SMPP, "advanced_config": good})
    assert info.integration.config["advanced_config"] == good


async def test_unsupported_provider_and_names(env):
    store, rt, life = env
    with pytest.raises(lc.UnsupportedProvider):
        await life.create("acme", "acs", "c", {})
    with pytest.raises(lc.InvalidConfig) as e:
        await life.create("acme", "smpp", "  ", SMPP)
    assert e.value.field == "name"
    await life.create("acme", "smpp", "c", SMPP)
    with pytest.raises(lc.NameTaken):
        await life.create("acme", "smpp", "c", SMPP)
    await life.create("globex", "smpp", "c", SMPP)  # names are per unit


async def test_at_most_ten_smpp_integrations_per_unit(env):
    store, rt, life = env
    ids = [(await life.create("acme", "smpp", f"c{i}", SMPP)).integration.id for i in range(10)]
    with pytest.raises(lc.SmppIntegrationLimit) as e:
        await life.create("acme", "smpp", "c10", SMPP)
    assert e.value.code == "smpp_integration_limit" and e.value.status == 409
    await life.create("acme", "twilio", "tw", TWILIO)  # the cap is for SMPP
    await life.create("globex", "smpp", "g", SMPP)  # and per unit
    await life.delete("acme", ids[0])
    await life.create("acme", "smpp", "c10", SMPP)  # a deleted one frees a place


async def test_credential_change_restarts_an_active_integration(env):
    store, rt, life = env
    iid = (await life.create("acme", "smpp", "c", SMPP, activate=True)).integration.id
    assert rt.ops(iid) == ["start"]
    info = await life.update("acme", iid, config={"password": "n3wpass"})
    assert info.restarted and info.changed == ("password",)
    assert rt.ops(iid) == ["start", "restart"]
    assert (await store.reveal_secrets(iid))["password"] == Secret("n3wpass")
    assert (await store.get_integration(iid)).config["system_id"] == "acme"
    evs = [e.payload for e in await store.events_after("acme", 0, 100)]
    restarted = [e for e in evs if e["kind"] == "integration_restarted"]
    assert restarted[0]["detail"] == "credentials changed"
    assert all("n3wpass" not in str(e) and "s3cr3tpw" not in str(e) for e in evs)
    # a connection change restarts too; the same password again changes nothing
    info = await life.update("acme", iid, config={"host": "smsc2.example", "password": "n3wpass"})
    assert info.changed == ("host",) and info.restarted
    info = await life.update("acme", iid, config={"password": "n3wpass"})
    assert not info.restarted and rt.ops(iid).count("restart") == 2
    # a rename doesn't re-bind
    info = await life.update("acme", iid, name="renamed")
    assert info.integration.name == "renamed" and not info.restarted
    # an invalid patch writes nothing
    with pytest.raises(lc.InvalidConfig):
        await life.update("acme", iid, config={"port": 70000})
    assert (await store.get_integration(iid)).config["host"] == "smsc2.example"
    # None restores a default
    await life.update("acme", iid, config={"host": "h", "port": 2775})
    info = await life.update("acme", iid, config={"port": None})
    assert "port" not in info.integration.config


async def test_credential_change_of_inactive_integration_does_not_start_it(env):
    store, rt, life = env
    iid = (await life.create("acme", "twilio", "tw", TWILIO)).integration.id
    info = await life.update("acme", iid, config={"auth_token": "other"})
    assert not info.restarted and rt.calls == []
    assert (await store.reveal_secrets(iid))["auth_token"] == Secret("other")


async def test_deactivate_queues_and_reactivate_delivers_nothing_lost(env):
    store, rt, life = env
    integ = (await life.create("acme", "smpp", "c", SMPP, activate=True)).integration
    await store.add_number(Number("+14155550100", "local", integ.id, "acme"))
    before = await queue_message(store, integ, 2)
    info = await life.deactivate("acme", integ.id)
    assert info.integration.state == "inactive" and integ.id not in rt.running
    assert rt.ops(integ.id) == ["start", "stop"]
    during = await queue_message(store, integ, 3)  # sent meanwhile: queued (S12)
    assert await store.claim_segments(integ.id, 100) == []  # held while inactive
    n = await store.get_number("+14155550100")
    assert n.enabled  # the operator's flag survives; usable again on re-activation
    await life.activate("acme", integ.id)
    claimed = await store.claim_segments(integ.id, 100)
    assert sorted(s.message_id for s in claimed) == sorted([before.id] * 2 + [during.id] * 3)
    assert await kinds(store) == ["integration_created", "integration_activated",
                                  "integration_deactivated", "integration_activated"]
    # idempotent
    await life.activate("acme", integ.id)
    assert rt.ops(integ.id) == ["start", "stop", "start"]


async def test_delete_fails_queued_messages_and_removes_numbers(env):
    store, rt, life = env
    integ = (await life.create("acme", "smpp", "c", SMPP, activate=True)).integration
    await store.add_number(Number("+14155550100", "local", integ.id, "acme"))
    msg = await queue_message(store, integ, 2)
    info = await life.delete("acme", integ.id)
    assert info.integration.state == "deleted"
    assert rt.ops(integ.id) == ["start", "stop"]
    assert await store.get_number("+14155550100") is None
    m = await store.get_message(msg.id)
    assert m.state == "failed" and m.generic_cause == "integration_deleted"
    assert await store.reveal_secrets(integ.id) == {}
    with pytest.raises(lc.IntegrationNotFound):
        await life.get("acme", integ.id)
    with pytest.raises(lc.IntegrationNotFound):
        await life.activate("acme", integ.id)
    assert "integration_deleted" in await kinds(store)


async def test_other_units_integration_is_not_found(env):
    store, rt, life = env
    iid = (await life.create("acme", "smpp", "c", SMPP, activate=True)).integration.id
    for op in (life.get, life.activate, life.deactivate, life.delete):
        with pytest.raises(lc.IntegrationNotFound):
            await op("globex", iid)
    with pytest.raises(lc.IntegrationNotFound):
        await life.update("globex", iid, config={"password": "x"})
    assert rt.ops(iid) == ["start"]
    assert (await store.get_integration(iid)).state == "active"
    assert await kinds(store, "globex") == []


async def test_runtime_that_cannot_start_leaves_it_inactive(env):
    store, rt, life = env
    iid = (await life.create("acme", "smpp", "c", SMPP)).integration.id
    rt.fail_start = RuntimeError("no adapter")
    with pytest.raises(lc.RuntimeFailed):
        await life.activate("acme", iid)
    assert (await store.get_integration(iid)).state == "inactive"
    assert "config_error" in await kinds(store)


def test_host_paths_only_from_the_config_file():
    """Issue 15, defect 11: the admin API may not name files on the host."""
    from byosms.gateway.lifecycle import InvalidConfig, validate_config

    cfg = {"host": "smsc.example.net", "system_id": "a", "password": "p",
           "ca_file": "/etc/ssl/certs/ca.pem"}
    with pytest.raises(InvalidConfig) as e:
        validate_config("smpp", cfg)
    assert e.value.field == "ca_file" and "ca_pem" in e.value.message
    decoded, _ = validate_config("smpp", cfg, origin="config_file")
    assert decoded.ca_file == "/etc/ssl/certs/ca.pem"
    # An update through the admin API keeps a stored path it does not touch.
    validate_config("smpp", {**cfg, "window": 3}, given={"window": 3})
    with pytest.raises(ValueError):
        validate_config("smpp", cfg, origin="tenant")  # type: ignore[arg-type]
