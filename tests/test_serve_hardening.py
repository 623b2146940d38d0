"""Issue 15 hardening, through `byosms serve` as a user runs it:

- defect 9: unauthenticated webhooks are counted, and reported in at most
  one `webhook_rejected` event per integration per interval (not one each);
- defect 11: certificates through the admin API are PEM content, host paths
  only from the operator's config file;
- defect 13: start-up errors and SMPP credentials too long in octets.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys

import pytest
import trio

from byosms.testing.twilio_fake import TwilioFake
from serve_harness import WAIT, free_port, serve

NUMBER = "+15005550006"
PHONE = "+15551230000"
#: The HTTP kit's default report interval (seconds), plus slack.
REPORT_WAIT = 10 + WAIT


def twilio_config(fake: TwilioFake, web_port: int) -> str:
    return f"""
[store]
path = "tw.db"
[[integrations]]
id = "tw"
provider = "twilio"
[integrations.twilio]
account_sid = "{fake.account_sid}"
auth_token = "{fake.auth_token}"
api_base = "{fake.base_url}"
public_base_url = "http://127.0.0.1:{web_port}"
[[numbers]]
number = "{NUMBER}"
integration = "tw"
"""


def _refused_count(detail: str) -> int:
    m = re.match(r"(\d+) webhooks refused", detail)
    return int(m.group(1)) if m else 1


@pytest.mark.slow
async def test_bad_signatures_are_aggregated_not_one_event_each(tmp_path):
    posts = 500
    async with TwilioFake() as fake:
        web = free_port()
        async with serve(tmp_path, twilio_config(fake, web), web_port=web) as gw:
            url = f"{gw.web}/vendors/v1/twilio/tw/mo"
            with trio.fail_after(WAIT * 2):
                for i in range(posts):
                    r = await fake.send_inbound(url, PHONE, NUMBER, f"forged {i}",
                                                signature="bad" if i % 2 else None)
                    assert r.status_code == 403
            # Every refusal is counted: the reports add up to all of them,
            # the last one within the interval after the burst.
            with trio.fail_after(REPORT_WAIT):
                while True:
                    rejected = [e["payload"] for e in await gw.events("operational")
                                if e["payload"].get("kind") == "webhook_rejected"]
                    if sum(_refused_count(e["detail"]) for e in rejected) >= posts:
                        break
                    await trio.sleep(0.2)
            assert sum(_refused_count(e["detail"]) for e in rejected) == posts
            # The burst took a few seconds at most: one event at once, one
            # per interval after (not 500).
            assert len(rejected) <= 4, [e["detail"] for e in rejected]
            assert all(e["cause"] == "bad_signature" and e["integration"] == "tw"
                       for e in rejected)
            last = rejected[-1]["detail"]
            assert f"({posts} since start)" in last and "X-Twilio-Signature" in last


SMPP_BASE = {"host": "smsc.example.net", "port": 2776, "system_id": "acme", "password": "s3cret"}


async def test_smpp_credentials_too_long_in_octets_refused_on_save(tmp_path):
    """Defect 13: a 9-octet password was accepted, then failed every bind."""
    async with serve(tmp_path, '[store]\npath = "c.db"\n') as gw:
        for field, value in (("password", "123456789"), ("password", "€1"),
                             ("system_id", "é" * 8 + "ĉ"), ("system_type", "t" * 13)):
            r = await gw.admin("POST", "/integrations", json={
                "provider": "smpp", "name": "c", "config": {**SMPP_BASE, field: value}})
            assert r.status_code == 422, r.text
            assert r.json()["field"] == field, r.text
            assert value not in r.text or field != "password"
        r = await gw.admin("POST", "/integrations", json={
            "provider": "smpp", "name": "c", "config": {**SMPP_BASE, "password": "12345678"}})
        assert r.status_code == 201, r.text
        iid = r.json()["id"]
        r = await gw.admin("PATCH", f"/integrations/{iid}", json={"config": {"password": "x" * 9}})
        assert r.status_code == 422 and r.json()["field"] == "password", r.text


# --- defect 13: start-up errors as one line, exit 2 (config) or 1 (runtime) -------

BYOSMS = [sys.executable, "-m", "byosms"]
#: `byosms serve` must give up at once on these; a hang is a failure.
EXIT_DEADLINE = 60
LISTEN = "[websocket]\nport = 0\n[web]\nport = 0\n"


def serve_once(tmp_path, config: str) -> subprocess.CompletedProcess:
    cfg = tmp_path / "serve.toml"
    cfg.write_text(config)
    return subprocess.run([*BYOSMS, "serve", "--config", str(cfg)], capture_output=True,
                          text=True, timeout=EXIT_DEADLINE, cwd=tmp_path)


def assert_one_line(p: subprocess.CompletedProcess, code: int, *words: str) -> str:
    assert p.returncode == code, (p.returncode, p.stderr)
    assert "Traceback" not in p.stderr and "ExceptionGroup" not in p.stderr, p.stderr
    lines = [ln for ln in p.stderr.splitlines() if ln.startswith("byosms serve:")]
    assert len(lines) == 1, p.stderr
    for w in words:
        assert w in lines[0], lines[0]
    return lines[0]


def make_store(tmp_path, config: str) -> None:
    """Create the store of ``config`` (as `byosms apikey create` does)."""
    cfg = tmp_path / "serve.toml"
    cfg.write_text(config)
    made = subprocess.run([*BYOSMS, "apikey", "create", "--business-unit", "default",
                           "--name", "t", "--config", str(cfg)],
                          capture_output=True, text=True, timeout=EXIT_DEADLINE, cwd=tmp_path)
    assert made.returncode == 0, made.stderr


def test_wrong_key_file_is_one_line_exit_2(tmp_path):
    from byosms.store.crypto import generate_key

    (tmp_path / "bad.key").write_text("not a key\n")
    p = serve_once(tmp_path, LISTEN + '[store]\npath = "k.db"\nsecret_key_file = "bad.key"\n')
    assert_one_line(p, 2, "bad.key", "base64")
    # A well-formed key that is not the one the database was made with.
    make_store(tmp_path, LISTEN + '[store]\npath = "k2.db"\n')
    (tmp_path / "other.key").write_text(generate_key() + "\n")
    p = serve_once(tmp_path, LISTEN + '[store]\npath = "k2.db"\nsecret_key_file = "other.key"\n')
    assert_one_line(p, 2, "secret key")


def _make_read_only(path) -> bool:
    """The database file read-only for this process: a mode for a normal
    user; root ignores modes, so the immutable attribute (if allowed)."""
    if os.geteuid() != 0:
        path.chmod(0o444)
        path.parent.chmod(0o555)
        return True
    chattr = shutil.which("chattr")
    return bool(chattr) and subprocess.run([chattr, "+i", str(path)],
                                           capture_output=True).returncode == 0


def _undo_read_only(path) -> None:
    if os.geteuid() != 0:
        path.parent.chmod(0o755)
        path.chmod(0o644)
    else:
        subprocess.run(["chattr", "-i", str(path)], capture_output=True)


def test_read_only_database_is_one_line_exit_1(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    config = LISTEN + '[store]\npath = "data/ro.db"\nsecret_key_file = "ro.key"\n'
    from byosms.store.crypto import generate_key
    (tmp_path / "ro.key").write_text(generate_key() + "\n")
    make_store(tmp_path, config)
    db = data / "ro.db"
    for extra in ("ro.db-wal", "ro.db-shm"):
        (data / extra).unlink(missing_ok=True)
    if not _make_read_only(db):
        pytest.skip("cannot make a file read-only for root here (no chattr)")
    try:
        p = serve_once(tmp_path, config)
    finally:
        _undo_read_only(db)
    assert_one_line(p, 1, "ro.db")


@pytest.mark.parametrize("where", ["web", "websocket", "simulator"])
def test_port_in_use_is_one_line_exit_1(tmp_path, where):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        ports = {"web": 0, "websocket": 0, "simulator": 0, where: port}
        config = (f"[websocket]\nport = {ports['websocket']}\n[web]\nport = {ports['web']}\n"
                  f'[store]\npath = "p.db"\n'
                  f"[simulator]\nenabled = true\ntls = false\n"
                  f"listen = {{port = {ports['simulator']}}}\n")
        p = serve_once(tmp_path, config)
    assert_one_line(p, 1, f"127.0.0.1:{port}", "address already in use")


@pytest.mark.parametrize("table,words", [
    ('provider = "twilio"\n[integrations.twilio]\naccount_sid = "nope"\nauth_token = "x"\n'
     'public_base_url = "http://x"\n', ("`tw`", "account_sid")),
    ('provider = "twilio"\n[integrations.twilio]\nauth_token = "x"\n', ("`tw`", "account_sid")),
    ('provider = "twilio"\n[integrations.twilio]\naccount_sid = "AC' + "0" * 32 + '"\n'
     'auth_token = "x"\npublic_base_url = "http://x"\nbogus = 1\n', ("`tw`", "bogus")),
    ('provider = "twilio"\n[integrations.twilio]\naccount_sid = "AC' + "0" * 32 + '"\n'
     'auth_token = "x"\npublic_base_url = "http://x"\nadvanced_config = {charsets = 5}\n',
     ("`tw`", "advanced_config.charsets")),
    ('provider = "nosuch"\n[integrations.config]\nx = 1\n', ("`tw`", "nosuch")),
    ('provider = "smpp"\n[integrations.smpp]\nhost = "h"\nsystem_id = "s"\n'
     'password = "123456789"\n', ("`tw`", "password")),
    ('provider = "smpp"\n[integrations.smpp]\nhost = "h"\nsystem_id = "s"\npassword = "p"\n'
     'port = 0\n', ("`tw`", "port")),
    ('provider = "smpp"\n[integrations.smpp]\nhost = "simulator"\nsystem_id = "s"\n'
     'password = "p"\n', ("`tw`", "host", "[simulator]")),
], ids=["twilio-bad-sid", "twilio-missing-sid", "twilio-unknown-field", "twilio-advanced",
        "unknown-provider", "smpp-password-octets", "smpp-port", "smpp-simulator-disabled"])
def test_config_errors_of_integrations_exit_2_naming_the_field(tmp_path, table, words):
    """Issue 18's note: bad [integrations.twilio] ended in a traceback."""
    p = serve_once(tmp_path, LISTEN + '[store]\npath = "i.db"\n[[integrations]]\nid = "tw"\n'
                   + table)
    assert_one_line(p, 2, *words)


# --- defect 11: certificates as PEM content; host paths from the config file only ----


def _pems():
    import trustme

    ca = trustme.CA()
    server = ca.issue_cert("127.0.0.1", "localhost")
    client = ca.issue_cert("byosms-client")
    return ca, server, client


async def test_admin_api_certificates_are_pem_content_not_host_paths(tmp_path):
    import ssl

    import trustme

    from byosms.testing.smsc import SmscSimulator

    ca, server_cert, client_cert = _pems()
    ca_pem = ca.cert_pem.bytes().decode()
    cert_pem = client_cert.cert_chain_pems[0].bytes().decode()
    key_pem = client_cert.private_key_pem.bytes().decode()
    other_key = trustme.CA().issue_cert("x").private_key_pem.bytes().decode()
    # The SMSC requires a client certificate signed by the same CA (mTLS).
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_cert.configure_cert(server_ctx)
    ca.configure_trust(server_ctx)
    server_ctx.verify_mode = ssl.CERT_REQUIRED
    sim = SmscSimulator(ssl_context=server_ctx, record=10)
    secret_file = tmp_path / "someone-elses.key"
    secret_file.write_text(key_pem)
    base = {**SMPP_BASE, "host": "127.0.0.1", "port": 0, "transport": "tls",
            "password": "secret", "system_id": "byosms"}

    async def create(config: dict) -> object:
        return await gw.admin("POST", "/integrations", json={
            "provider": "smpp", "name": "tls", "config": config})

    async with trio.open_nursery() as nursery:
        await nursery.start(sim.serve)
        base["port"] = sim.port
        async with serve(tmp_path, '[store]\npath = "t.db"\n') as gw:
            # Host paths: refused through the admin API, naming the field,
            # whether the file exists or not (no oracle).
            for field, value in (("ca_file", str(secret_file)), ("ca_file", "/nonexistent"),
                                 ("client_key_file", str(secret_file))):
                extra = {field: value}
                if field == "client_key_file":
                    extra["client_cert_file"] = str(secret_file)
                r = await create({**base, **extra})
                assert r.status_code == 422, r.text
                assert r.json()["field"] in ("ca_file", "client_cert_file", "client_key_file")
                assert "config file" in r.json()["message"] and "_pem" in r.json()["message"]
            # Not PEM, or a key that isn't the certificate's: 422 naming the field.
            for extra, field in (({"ca_pem": "not a certificate"}, "ca_pem"),
                                 ({"ca_pem": "-----BEGIN CERTIFICATE-----\nAAAA\n"
                                   "-----END CERTIFICATE-----\n"}, "ca_pem"),
                                 ({"client_cert_pem": "x", "client_key_pem": key_pem},
                                  "client_cert_pem"),
                                 ({"client_cert_pem": cert_pem, "client_key_pem": "nope"},
                                  "client_key_pem"),
                                 ({"client_cert_pem": cert_pem, "client_key_pem": other_key},
                                  "client_key_pem"),
                                 ({"client_cert_pem": cert_pem}, "client_cert_pem")):
                r = await create({**base, **extra})
                assert r.status_code == 422 and r.json()["field"] == field, (extra.keys(), r.text)
                assert key_pem.splitlines()[1] not in r.text and other_key.splitlines()[1] not in r.text
            # PEM content: accepted, the key masked, and the bind verifies
            # the SMSC by that CA and presents the client certificate.
            r = await create({**base, "ca_pem": ca_pem, "client_cert_pem": cert_pem,
                              "client_key_pem": key_pem})
            assert r.status_code == 201, r.text
            iid = r.json()["id"]
            got = (await gw.admin("GET", f"/integrations/{iid}")).json()
            assert got["config"]["client_key_pem"] == "********"
            assert got["config"]["ca_pem"] == ca_pem
            assert "client_key_pem" in got["secret_fields"]
            # A patch cannot bring a host path in either.
            r = await gw.admin("PATCH", f"/integrations/{iid}",
                               json={"config": {"ca_pem": None, "ca_file": str(secret_file)}})
            assert r.status_code == 422 and r.json()["field"] == "ca_file", r.text
            r = await gw.admin("POST", f"/integrations/{iid}/activate")
            assert r.status_code == 200, r.text
            up = await gw.wait_event(lambda e: e["payload"].get("kind") == "bind_up"
                                     and e["payload"].get("integration") == iid,
                                     type_="operational")
            assert up
            assert key_pem.splitlines()[1] not in gw.log()
            assert not (tmp_path / "t.db").read_bytes().count(key_pem.splitlines()[1].encode())
        nursery.cancel_scope.cancel()


async def test_config_file_may_still_name_certificate_files(tmp_path):
    """The operator's config file keeps `ca_file` (host paths are the
    operator's own); the bind verifies the SMSC with it."""
    import ssl

    from byosms.testing.smsc import SmscSimulator

    ca, server_cert, _ = _pems()
    ca_file = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_cert.configure_cert(server_ctx)
    sim = SmscSimulator(ssl_context=server_ctx, record=10)
    async with trio.open_nursery() as nursery:
        await nursery.start(sim.serve)
        config = f"""
[store]
path = "f.db"
[[integrations]]
id = "carrier"
provider = "smpp"
[integrations.smpp]
host = "127.0.0.1"
port = {sim.port}
transport = "tls"
ca_file = "{ca_file}"
system_id = "byosms"
password = "secret"
binds = 1
"""
        async with serve(tmp_path, config) as gw:
            await gw.wait_event(lambda e: e["payload"].get("kind") == "bind_up",
                                type_="operational")
            got = (await gw.admin("GET", "/integrations/carrier")).json()
            assert got["config"]["ca_file"] == str(ca_file)
            # Editing another field through the admin API keeps it.
            r = await gw.admin("PATCH", "/integrations/carrier", json={"config": {"window": 5}})
            assert r.status_code == 200, r.text
        nursery.cancel_scope.cancel()
