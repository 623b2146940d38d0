"""`byosms integrations|numbers|events` against a live gateway web server on
loopback (in-process main() in a worker thread, the server on trio)."""

import json
import os

import pytest
import trio

from byosms import cli
from byosms.gateway.lifecycle import IntegrationLifecycle
from byosms.store import open_sqlite_store
from byosms.testing import FakeRuntime
from byosms.web import IntegrationRegistry, create_app, serve_web
from byosms.web.admin import AdminApi

PASSWORD = "cliPw123"


@pytest.fixture
async def gw(tmp_path, nursery, monkeypatch):
    async with open_sqlite_store(str(tmp_path / "cli.db"), key=os.urandom(32)) as store:
        runtime = FakeRuntime()
        app = create_app(IntegrationRegistry(),
                         admin=AdminApi(store, IntegrationLifecycle(store, runtime)))
        port = await nursery.start(serve_web, app, "127.0.0.1", 0)
        _, token = await store.create_api_key("acme", "cli")
        monkeypatch.setenv("BYOSMS_API_KEY", token)
        monkeypatch.setenv("BYOSMS_URL", f"http://127.0.0.1:{port}")
        yield store, runtime, tmp_path


async def run(capsys, *argv):
    capsys.readouterr()
    rc = await trio.to_thread.run_sync(cli.main, list(argv))
    out, err = capsys.readouterr()
    assert PASSWORD not in out and PASSWORD not in err
    return rc, out, err


async def test_integration_commands(gw, capsys):
    store, runtime, tmp = gw
    conf = tmp / "smpp.toml"
    conf.write_text('host = "smsc.example"\nsystem_id = "acme"\nbind_type = "transmitter"\n')
    secret = tmp / "pw"
    secret.write_text(PASSWORD + "\n")
    rc, out, err = await run(capsys, "integrations", "create", "--provider", "smpp", "--name",
                             "carrier", "--config", str(conf), "--secret-file",
                             f"password={secret}", "--set", "port=2775", "-o", "json")
    assert rc == 0, err
    created = json.loads(out)
    iid = created["id"]
    assert created["config"] == {"host": "smsc.example", "system_id": "acme",
                                 "bind_type": "transmitter", "port": 2775,
                                 "password": "********"}
    assert any("transmitter" in w for w in created["warnings"])
    assert (await store.reveal_secrets(iid))["password"].reveal() == PASSWORD

    rc, out, _ = await run(capsys, "integrations", "list")
    assert rc == 0 and out.splitlines()[0].split() == ["ID", "NAME", "PROVIDER", "STATE"]
    assert out.splitlines()[1].split() == [iid, "carrier", "smpp", "inactive"]
    rc, out, _ = await run(capsys, "integrations", "activate", iid)
    assert rc == 0 and "active" in out and runtime.running == {iid}
    rc, out, _ = await run(capsys, "integrations", "show", iid)
    assert "state: active" in out and "********" in out
    rc, out, _ = await run(capsys, "integrations", "addresses", iid, "-o", "json")
    assert json.loads(out)["source"] == "host"
    rc, out, _ = await run(capsys, "integrations", "update", iid, "--set",
                           "messages_per_second=50", "--unset", "port", "-o", "json")
    body = json.loads(out)
    assert body["restarted"] is True and body["changed"] == ["messages_per_second", "port"]
    rc, out, _ = await run(capsys, "integrations", "deactivate", iid)
    assert "inactive" in out and runtime.running == set()
    rc, out, err = await run(capsys, "integrations", "update", iid, "--set", "password=oops")
    assert rc == 1 and "secret" in err and "oops" not in err
    rc, out, err = await run(capsys, "integrations", "update", iid, "--set", "port=0")
    assert rc == 1 and "invalid_config" in err and "field: port" in err
    rc, out, _ = await run(capsys, "integrations", "delete", iid)
    assert rc == 0 and "deleted" in out
    rc, out, err = await run(capsys, "integrations", "show", iid)
    assert rc == 1 and "integration_not_found" in err


async def test_prompted_secret_is_not_echoed(gw, capsys, monkeypatch):
    store, runtime, tmp = gw
    asked = []
    monkeypatch.setattr("getpass.getpass", lambda prompt: asked.append(prompt) or "tok-abcdef")
    rc, out, err = await run(capsys, "integrations", "create", "--provider", "twilio",
                             "--name", "tw", "--set", "account_sid=AC" + "2" * 32, "--set",
                             "public_base_url=https://gw.example", "--prompt-secret",
                             "auth_token", "-o", "json")
    assert rc == 0, err
    assert asked == ["auth_token: "] and "tok-abcdef" not in out
    assert json.loads(out)["callback_urls"]["inbound"].startswith("https://gw.example/vendors/")


async def test_number_and_event_commands(gw, capsys):
    store, runtime, tmp = gw
    conf = tmp / "smpp.json"
    conf.write_text(json.dumps({"host": "h", "system_id": "a", "password": PASSWORD}))
    rc, out, err = await run(capsys, "integrations", "create", "--provider", "smpp", "--name",
                             "c", "--config", str(conf), "--activate", "-o", "json")
    iid = json.loads(out)["id"]
    rc, out, err = await run(capsys, "numbers", "import", "--integration", iid, "--sender-id",
                             "+14155550100", "--type", "local", "--display-name", "Support")
    assert rc == 0, err
    assert out.splitlines()[1].split() == ["+14155550100", "local", iid, "Support", "True",
                                           "True"]
    kw = tmp / "kw.toml"
    kw.write_text('help = ["HELP"]\nhelp_reply = "h"\nopt_out = ["STOP"]\nopt_out_reply = "o"\n'
                  'opt_in = ["START"]\nopt_in_reply = "i"\n')
    rc, out, err = await run(capsys, "numbers", "import", "--integration", iid, "--sender-id",
                             "12345", "--type", "short_code", "--country", "US", "--keywords",
                             str(kw), "-o", "json")
    assert rc == 0 and json.loads(out)["keywords"]["help_reply"] == "h"
    rc, out, err = await run(capsys, "numbers", "import", "--integration", iid, "--sender-id",
                             "54321", "--type", "short_code", "--country", "US")
    assert rc == 1 and "missing_compliance_keywords" in err
    rc, out, _ = await run(capsys, "numbers", "update", "+14155550100", "--disable", "-o", "json")
    assert json.loads(out)["enabled"] is False
    rc, out, _ = await run(capsys, "numbers", "list", "-o", "json")
    assert [n["number"] for n in json.loads(out)["numbers"]] == ["+14155550100", "12345"]
    rc, out, _ = await run(capsys, "numbers", "remove", "12345")
    assert rc == 0 and out.strip() == "removed 12345"
    rc, out, _ = await run(capsys, "numbers", "list", "--integration", iid)
    assert len(out.splitlines()) == 2

    rc, out, _ = await run(capsys, "events", "list", "--type", "operational", "-o", "json")
    events = [json.loads(line) for line in out.splitlines()]
    assert [e["payload"]["kind"] for e in events] == ["integration_created",
                                                      "integration_activated"]
    rc, out, _ = await run(capsys, "events", "list", "--after", str(events[0]["cursor"]),
                           "--limit", "1", "-o", "json")
    assert [json.loads(line)["cursor"] for line in out.splitlines()] == [events[1]["cursor"]]
    rc, out, _ = await run(capsys, "events", "list", "--follow", "--polls", "2",
                           "--interval", "0")
    assert rc == 0 and out.splitlines()[0].split() == ["CURSOR", "TYPE", "PAYLOAD"]


async def test_no_key_and_unreachable(gw, capsys, monkeypatch):
    monkeypatch.delenv("BYOSMS_API_KEY")
    rc, out, err = await run(capsys, "integrations", "list")
    assert rc == 1 and "BYOSMS_API_KEY" in err
    rc, out, err = await run(capsys, "integrations", "list", "--api-key", "byo_wrong")
    assert rc == 1 and "unauthorized" in err
    rc, out, err = await run(capsys, "integrations", "list", "--api-key", "byo_x", "--url",
                             "http://127.0.0.1:1")
    assert rc == 1 and "cannot reach" in err
