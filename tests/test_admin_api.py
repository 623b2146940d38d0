"""The admin REST API over real HTTP on loopback (hypercorn on trio) with a
real SQLite file: every endpoint, N5 errors, OpenAPI, and the access test (D4)."""

import json
import os
import re

import httpx
import pytest

from byosms.gateway.lifecycle import IntegrationLifecycle
from byosms.gateway.numbers import NumberInventory
from byosms.schemas.records import Message, Segment
from byosms.store import open_sqlite_store
from byosms.testing import FakeRuntime
from byosms.web import IntegrationRegistry, create_app, serve_web
from byosms.web.admin import OPERATIONS, PREFIX, AdminApi, openapi_document

PASSWORD = "pw9Zq!x7"
TOKEN = "twilio-auth-token-0123456789abcdef"
SMPP = {"host": "smsc.example", "system_id": "acme", "password": PASSWORD}
TWILIO = {"account_sid": "AC" + "1" * 32, "auth_token": TOKEN,
          "public_base_url": "https://gw.example"}
LOCAL = "+14155550100"
SHORT_KW = {"help": ["HELP"], "help_reply": "Help text", "opt_out": ["STOP"],
            "opt_out_reply": "Bye", "opt_in": ["START"], "opt_in_reply": "Hi again"}


class Env:
    pass


@pytest.fixture
async def env(tmp_path, nursery):
    async with open_sqlite_store(str(tmp_path / "admin.db"), key=os.urandom(32)) as store:
        e = Env()
        e.store = store
        e.runtime = FakeRuntime()
        e.lifecycle = IntegrationLifecycle(store, e.runtime)
        e.inventory = NumberInventory(store)
        app = create_app(IntegrationRegistry(), admin=AdminApi(store, e.lifecycle, e.inventory))
        port = await nursery.start(serve_web, app, "127.0.0.1", 0)
        e.base = f"http://127.0.0.1:{port}"
        _, e.token = await store.create_api_key("acme", "ops")
        _, e.other_token = await store.create_api_key("globex", "ops")
        async with httpx.AsyncClient(base_url=e.base + PREFIX) as client:
            e.http = client
            e.responses = []  # every body seen, for the secret scan

            async def call(method, path, token=e.token, **kw):
                headers = {"Authorization": f"Bearer {token}"} if token else {}
                r = await client.request(method, path, headers=headers, **kw)
                e.responses.append(r.text)
                return r

            e.call = call
            yield e
        for body in e.responses:
            assert PASSWORD not in body and TOKEN not in body


async def make_smpp(env, **extra):
    r = await env.call("POST", "/integrations", json={
        "provider": "smpp", "name": extra.pop("name", "carrier"), "config": {**SMPP, **extra}})
    assert r.status_code == 201, r.text
    return r.json()


async def test_healthz_and_webhooks_still_served(env):
    async with httpx.AsyncClient() as c:
        assert (await c.get(env.base + "/healthz")).text == "ok"
        assert (await c.post(env.base + "/vendors/v1/twilio/nope/mo")).status_code == 404


async def test_auth_required(env):
    r = await env.call("GET", "/integrations", token=None)
    assert r.status_code == 401 and r.json()["code"] == "unauthorized"
    assert r.headers["www-authenticate"] == "Bearer"
    r = await env.call("GET", "/integrations", token="byo_forged")
    assert r.status_code == 401
    key = (await env.store.list_api_keys("acme"))[0]
    await env.store.revoke_api_key(key.id)
    assert (await env.call("GET", "/integrations")).status_code == 401


async def test_integration_crud_and_lifecycle(env):
    created = await make_smpp(env, bind_type="transmitter", port=9999)
    iid = created["id"]
    assert created["state"] == "inactive" and created["config"]["password"] == "********"
    assert created["secret_fields"] == ["password"]
    assert any("transmitter" in w for w in created["warnings"])
    assert any("9999" in w for w in created["warnings"])
    r = await env.call("GET", "/integrations")
    assert [i["id"] for i in r.json()["integrations"]] == [iid]
    r = await env.call("GET", f"/integrations/{iid}")
    assert r.status_code == 200 and r.json()["name"] == "carrier"

    r = await env.call("POST", f"/integrations/{iid}/activate")
    assert r.json()["state"] == "active" and env.runtime.running == {iid}
    r = await env.call("PATCH", f"/integrations/{iid}", json={"config": {"password": "newpw1"}})
    body = r.json()
    assert r.status_code == 200 and body["restarted"] is True and body["changed"] == ["password"]
    assert env.runtime.ops(iid) == ["start", "restart"]
    r = await env.call("PATCH", f"/integrations/{iid}", json={"name": "renamed"})
    assert r.json()["name"] == "renamed" and r.json()["restarted"] is False

    r = await env.call("POST", f"/integrations/{iid}/deactivate")
    assert r.json()["state"] == "inactive" and env.runtime.running == set()
    r = await env.call("DELETE", f"/integrations/{iid}")
    assert r.json()["state"] == "deleted"
    assert (await env.call("GET", f"/integrations/{iid}")).status_code == 404
    assert (await env.call("GET", "/integrations")).json()["integrations"] == []


async def test_twilio_callback_urls_and_secret_masked(env):
    r = await env.call("POST", "/integrations", json={
        "provider": "twilio", "name": "tw", "config": TWILIO, "activate": True})
    body = r.json()
    assert r.status_code == 201 and body["state"] == "active"
    setup = body["callback_urls"].pop("setup")
    assert body["callback_urls"] == {
        "inbound": f"https://gw.example/vendors/v1/twilio/{body['id']}/mo",
        "status": f"https://gw.example/vendors/v1/twilio/{body['id']}/status"}
    assert "A message comes in" in setup  # D3: what to set at Twilio
    assert body["config"]["auth_token"] == "********"


async def test_integration_errors(env):
    r = await env.call("POST", "/integrations", json={
        "provider": "smpp", "name": "c", "config": {**SMPP, "advanced_config": {
            "charsets": [{"dcs": 300, "charset": "gsm_0338"}]}}})
    assert r.status_code == 422
    assert r.json()["code"] == "invalid_advanced_config"
    assert r.json()["field"] == "advanced_config.charsets[0].dcs"
    r = await env.call("POST", "/integrations", json={
        "provider": "smpp", "name": "c", "config": {**SMPP, "destination_ton": 9}})
    assert r.status_code == 422 and r.json()["field"] == "destination_ton"
    r = await env.call("POST", "/integrations", json={"provider": "smpp", "name": "c"})
    assert r.status_code == 400 and r.json()["code"] == "invalid_request"
    r = await env.call("POST", "/integrations", content=b"{not json")
    assert r.status_code == 400 and r.json()["code"] == "invalid_json"
    r = await env.call("POST", "/integrations", json={"provider": "fax", "name": "c",
                                                      "config": {}})
    assert r.status_code == 422 and r.json()["code"] == "unsupported_provider"
    for i in range(10):
        await make_smpp(env, name=f"c{i}")
    r = await env.call("POST", "/integrations", json={"provider": "smpp", "name": "c10",
                                                      "config": SMPP})
    assert r.status_code == 409 and r.json()["code"] == "smpp_integration_limit"
    r = await env.call("POST", "/integrations", content=b"x" * (300 * 1024))
    assert r.status_code == 413


async def test_addresses(env):
    iid = (await make_smpp(env))["id"]
    r = await env.call("GET", f"/integrations/{iid}/addresses")
    body = r.json()
    assert r.status_code == 200 and body["source"] == "host"
    assert isinstance(body["addresses"], list) and body["note"]
    env.runtime.addresses[iid] = ["10.1.2.3", "10.1.2.4"]
    await env.call("POST", f"/integrations/{iid}/activate")
    body = (await env.call("GET", f"/integrations/{iid}/addresses")).json()
    assert body == {"integration": iid, "source": "binds", "addresses": ["10.1.2.3", "10.1.2.4"]}


async def test_numbers(env):
    iid = (await make_smpp(env))["id"]
    r = await env.call("POST", "/numbers", json={
        "integration": iid, "sender_id": "+1 (415) 555-0100", "type": "local",
        "display_name": "Support"})
    assert r.status_code == 201, r.text
    n = r.json()
    assert n["number"] == LOCAL and n["enabled"] is True and n["usable"] is False
    await env.call("POST", f"/integrations/{iid}/activate")
    assert (await env.call("GET", f"/numbers/{LOCAL}")).json()["usable"] is True
    r = await env.call("POST", "/numbers", json={
        "integration": iid, "sender_id": "12345", "type": "short_code", "country": "US",
        "keywords": SHORT_KW})
    assert r.status_code == 201 and r.json()["keywords"]["opt_out"] == ["STOP"]
    nums = (await env.call("GET", "/numbers")).json()["numbers"]
    assert [x["number"] for x in nums] == ["+14155550100", "12345"]
    assert (await env.call("GET", "/numbers", params={"integration": "int_x"})).json() == {
        "numbers": []}
    r = await env.call("PATCH", f"/numbers/{LOCAL}", json={"display_name": "Sales",
                                                             "enabled": False})
    assert r.json()["display_name"] == "Sales" and r.json()["usable"] is False
    r = await env.call("PATCH", f"/numbers/{LOCAL}", json={"keywords": SHORT_KW})
    assert r.status_code == 422 and r.json()["code"] == "invalid_compliance_keywords"
    r = await env.call("PATCH", "/numbers/12345", json={"keywords": {**SHORT_KW,
                                                                     "help": ["INFO"]}})
    assert r.json()["keywords"]["help"] == ["INFO"]
    assert (await env.call("DELETE", f"/numbers/{LOCAL}")).status_code == 204
    assert (await env.call("GET", f"/numbers/{LOCAL}")).status_code == 404
    # a deactivated integration's numbers are not usable
    await env.call("POST", f"/integrations/{iid}/deactivate")
    assert (await env.call("GET", "/numbers/12345")).json()["usable"] is False


@pytest.mark.parametrize("body, status, code", [
    ({"sender_id": "", "type": "local"}, 422, "missing_sender_id"),
    ({"type": "local"}, 422, "missing_sender_id"),
    ({"sender_id": "12345", "type": "short_code", "country": "US"}, 422,
     "missing_compliance_keywords"),
    ({"sender_id": "4155550100", "type": "local"}, 422, "invalid_sender_id_type"),
    ({"sender_id": "1234", "type": "short_code", "country": "US", "keywords": SHORT_KW}, 422,
     "invalid_sender_id_type"),
    ({"sender_id": LOCAL, "type": "local", "country": "GB"}, 422, "country_mismatch"),
])
async def test_import_errors_through_rest(env, body, status, code):
    iid = (await make_smpp(env))["id"]
    r = await env.call("POST", "/numbers", json={"integration": iid, **body})
    assert r.status_code == status and r.json()["code"] == code, r.text


async def test_import_conflicts_through_rest(env):
    iid = (await make_smpp(env))["id"]
    body = {"integration": iid, "sender_id": LOCAL, "type": "local"}
    assert (await env.call("POST", "/numbers", json=body)).status_code == 201
    r = await env.call("POST", "/numbers", json=body)
    assert r.status_code == 409 and r.json()["code"] == "already_in_inventory"
    other = (await env.call("POST", "/integrations", token=env.other_token, json={
        "provider": "smpp", "name": "g", "config": SMPP})).json()["id"]
    r = await env.call("POST", "/numbers", token=env.other_token,
                       json={**body, "integration": other})
    assert r.status_code == 409 and r.json()["code"] == "already_provisioned"
    assert "acme" not in r.text and iid not in r.text
    r = await env.call("POST", "/numbers", json={**body, "integration": "int_missing"})
    assert r.status_code == 404 and r.json()["code"] == "integration_not_found"

    async def not_found(integ, number, type_):
        return "not_found"

    env.inventory.set_vendor_check("smpp", not_found)
    r = await env.call("POST", "/numbers", json={**body, "sender_id": "+14155550101"})
    assert r.status_code == 422 and r.json()["code"] == "not_found_at_vendor"
    assert r.json()["reason"] == "not_found"


async def queue(env, iid, bu="acme"):
    segs = [Segment(0, "", i, b"x") for i in range(2)]
    m = Message("", "mt", iid, bu, LOCAL, "+14155550199", "hello", "gsm", 0, 2)
    return (await env.store.accept_message(m, segs)).message


async def test_messages_events_opt_outs(env):
    iid = (await make_smpp(env))["id"]
    await env.call("POST", "/numbers", json={"integration": iid, "sender_id": LOCAL,
                                              "type": "local"})
    msg = await queue(env, iid)
    r = await env.call("GET", f"/messages/{msg.id}")
    body = r.json()
    assert r.status_code == 200 and body["state"] == "queued" and body["text"] == "hello"
    assert [s["index"] for s in body["segments"]] == [0, 1]
    assert all(s["state"] == "queued" for s in body["segments"])
    assert (await env.call("GET", "/messages/msg_nope")).status_code == 404

    await env.call("POST", f"/integrations/{iid}/activate")
    await env.call("DELETE", f"/integrations/{iid}")
    body = (await env.call("GET", f"/messages/{msg.id}")).json()
    assert body["state"] == "failed" and body["generic_cause"] == "integration_deleted"

    r = await env.call("GET", "/events", params={"type": "operational"})
    kinds = [e["payload"]["kind"] for e in r.json()["events"]]
    assert kinds == ["integration_created", "integration_activated", "integration_deleted"]
    allev = (await env.call("GET", "/events")).json()
    assert {e["type"] for e in allev["events"]} == {"operational", "status"}
    page = (await env.call("GET", "/events", params={"limit": 2})).json()
    assert len(page["events"]) == 2
    rest = (await env.call("GET", "/events", params={"after": page["next_after"]})).json()
    assert [e["cursor"] for e in page["events"] + rest["events"]] == \
        [e["cursor"] for e in allev["events"]]
    r = await env.call("GET", "/events", params={"type": "bogus"})
    assert r.status_code == 400 and r.json()["field"] == "type"
    r = await env.call("GET", "/events", params={"limit": "0"})
    assert r.status_code == 400

    iid2 = (await make_smpp(env, name="c2"))["id"]
    await env.call("POST", "/numbers", json={"integration": iid2, "sender_id": LOCAL,
                                              "type": "local"})
    await env.store.set_opt_out(LOCAL, "+14155550199", True)
    r = await env.call("GET", "/opt-outs", params={"sender": LOCAL, "recipient": "+14155550199"})
    assert r.json() == {"sender": LOCAL, "recipient": "+14155550199", "opted_out": True}
    r = await env.call("GET", "/opt-outs", params={"sender": LOCAL, "recipient": "+14155550198"})
    assert r.json()["opted_out"] is False
    assert (await env.call("GET", "/opt-outs", params={"sender": LOCAL})).status_code == 400


async def test_openapi_lists_every_route_and_is_valid(env):
    validator = pytest.importorskip("openapi_spec_validator")
    r = await env.http.get(env.base + PREFIX + "/openapi.json")
    doc = r.json()
    assert r.status_code == 200 and doc["openapi"].startswith("3.1")
    validator.validate(doc)
    for op in OPERATIONS:
        assert op.method.lower() in doc["paths"][PREFIX + op.path], op
    # every route the app serves under /admin/v1 is in the document
    served = {(m, route.path) for route in AdminApi(None, None).routes()
              for m in (route.methods or ()) if m != "HEAD"}
    documented = {(m.upper(), p) for p, ops in doc["paths"].items() for m in ops}
    assert served == documented
    assert doc == json.loads(json.dumps(openapi_document()))
    # secrets are write-only in the schema
    assert doc["components"]["schemas"]["SmppIntegrationConfig"]["properties"]["password"][
        "writeOnly"] is True


# --- the access test (D4) ------------------------------------------------------------


async def test_other_units_key_is_refused_everywhere(env):
    """Unit acme owns an active SMPP and a Twilio integration, numbers, a
    message, events and an opt-out; globex's key tries every endpoint on
    them. Each is refused (404, or 409 for N5's "elsewhere"), nothing of
    acme changes, and no body anywhere holds a secret (checked by the fixture
    for every response of the test)."""
    smpp = (await make_smpp(env))["id"]
    tw = (await env.call("POST", "/integrations", json={
        "provider": "twilio", "name": "tw", "config": TWILIO})).json()["id"]
    await env.call("POST", f"/integrations/{smpp}/activate")
    await env.call("POST", "/numbers", json={"integration": smpp, "sender_id": LOCAL,
                                              "type": "local"})
    msg = await queue(env, smpp)
    await env.store.set_opt_out(LOCAL, "+14155550199", True)
    before_events = (await env.call("GET", "/events")).json()["events"]
    calls_before = list(env.runtime.calls)

    o = env.other_token
    refused = []
    for iid in (smpp, tw):
        for method, path, kw in [
            ("GET", f"/integrations/{iid}", {}),
            ("PATCH", f"/integrations/{iid}", {"json": {"config": {"host": "evil.example"}}}),
            ("PATCH", f"/integrations/{iid}", {"json": {"name": "mine"}}),
            ("POST", f"/integrations/{iid}/activate", {}),
            ("POST", f"/integrations/{iid}/deactivate", {}),
            ("GET", f"/integrations/{iid}/addresses", {}),
            ("DELETE", f"/integrations/{iid}", {}),
            ("POST", "/numbers", {"json": {"integration": iid, "sender_id": "+14155550102",
                                           "type": "local"}}),
        ]:
            refused.append((method, path, await env.call(method, path, token=o, **kw)))
    for method, path, kw in [
        ("GET", f"/numbers/{LOCAL}", {}),
        ("PATCH", f"/numbers/{LOCAL}", {"json": {"enabled": False}}),
        ("DELETE", f"/numbers/{LOCAL}", {}),
        ("GET", f"/messages/{msg.id}", {}),
        ("GET", "/opt-outs", {"params": {"sender": LOCAL, "recipient": "+14155550199"}}),
    ]:
        refused.append((method, path, await env.call(method, path, token=o, **kw)))
    for method, path, r in refused:
        assert r.status_code in (403, 404), (method, path, r.status_code, r.text)
        assert r.json()["code"].endswith("not_found")
        assert "smsc.example" not in r.text and "carrier" not in r.text  # nothing of acme's
    # the only way to "touch" acme's number: importing it again says taken, not by whom
    g = (await env.call("POST", "/integrations", token=o, json={
        "provider": "smpp", "name": "g", "config": SMPP})).json()["id"]
    r = await env.call("POST", "/numbers", token=o, json={"integration": g, "sender_id": LOCAL,
                                                         "type": "local"})
    assert r.status_code == 409 and r.json()["code"] == "already_provisioned"
    assert "acme" not in r.text and smpp not in r.text
    # lists show only globex's own things
    ints = (await env.call("GET", "/integrations", token=o)).json()["integrations"]
    assert [i["id"] for i in ints] == [g]
    assert (await env.call("GET", "/numbers", token=o)).json()["numbers"] == []
    other_events = (await env.call("GET", "/events", token=o)).json()["events"]
    assert all(e["payload"].get("integration") == g for e in other_events)
    assert all(re.search(smpp + "|" + tw + "|" + msg.id, json.dumps(e)) is None
               for e in other_events)
    # nothing of acme changed
    after = await env.call("GET", f"/integrations/{smpp}")
    assert after.json()["state"] == "active" and after.json()["config"]["host"] == "smsc.example"
    assert (await env.call("GET", f"/integrations/{tw}")).json()["name"] == "tw"
    assert (await env.call("GET", f"/numbers/{LOCAL}")).json()["enabled"] is True
    assert (await env.call("GET", f"/messages/{msg.id}")).json()["state"] == "queued"
    assert (await env.call("GET", "/events")).json()["events"] == before_events
    assert env.runtime.calls == calls_before  # no bind of acme's was touched
    # and acme's own responses never held a secret (the fixture re-checks all)
    for r in (await env.call("GET", f"/integrations/{smpp}"),
              await env.call("GET", f"/integrations/{tw}"),
              await env.call("GET", "/integrations")):
        assert PASSWORD not in r.text and TOKEN not in r.text
