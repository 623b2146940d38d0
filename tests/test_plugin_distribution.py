"""A third-party provider as its users would ship it (issue 14 item 2): a
distribution of its own (tests/plugin_acme: pyproject, entry point in the
`byosms.providers` group) installed by pip, then used through `byosms serve`
and the admin API — create an integration, import a number (the plug-in's
number check), send, its delivery report, an inbound message — with no file
of byosms changed for it."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
import trio

from byosms.schemas import api
from serve_harness import BYOSMS, WAIT, free_port, serve

PLUGIN = Path(__file__).parent / "plugin_acme"
NUMBER = "+15005550100"
PHONE = "+15551230000"
TOKEN = "acme-shared-token"


@pytest.fixture(scope="module")
def plugin_path(tmp_path_factory) -> str:
    """The plug-in installed by pip into a folder of its own (the test
    environment's byosms stays as it is): its PYTHONPATH."""
    target = tmp_path_factory.mktemp("site")
    build = tmp_path_factory.mktemp("build")
    # Built from a copy: setuptools writes build/ next to the sources.
    source = build / "plugin_acme"
    shutil.copytree(PLUGIN, source, ignore=shutil.ignore_patterns("build", "*.egg-info",
                                                                   "__pycache__"))
    p = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
         "--no-index", "--target", str(target), str(source)],
        capture_output=True, text=True, timeout=300,
        env={**os.environ, "TMPDIR": str(build), "PIP_DISABLE_PIP_VERSION_CHECK": "1"})
    assert p.returncode == 0, p.stdout + p.stderr
    assert list(target.glob("acme_sms_byosms-1.0.0.dist-info/entry_points.txt"))
    return str(target)


def test_the_cli_knows_the_plugin(plugin_path):
    env = {**os.environ, "PYTHONPATH": plugin_path}
    p = subprocess.run([*BYOSMS, "integrations", "create", "--help"], capture_output=True,
                       text=True, timeout=60, env=env)
    assert p.returncode == 0, p.stderr
    assert "acme" in p.stdout and "token (secret; required)" in p.stdout


async def test_a_plugin_through_serve(tmp_path, plugin_path):
    web = free_port()
    base = f"http://127.0.0.1:{web}"
    config = '[store]\npath = "acme.db"\n'
    async with serve(tmp_path, config, web_port=web, env={"PYTHONPATH": plugin_path}) as gw:
        r = await gw.admin("POST", "/integrations", json={
            "provider": "acme", "name": "ACME", "activate": True,
            "config": {"token": TOKEN, "public_base_url": base, "numbers": [NUMBER]}})
        assert r.status_code == 201, r.text
        integ = r.json()
        iid = integ["id"]
        assert integ["provider"] == "acme" and integ["state"] == "active"
        assert integ["config"]["token"] == "********" and integ["secret_fields"] == ["token"]
        hooks = f"{base}/vendors/v1/acme/{iid}"
        assert integ["callback_urls"]["inbound"] == f"{hooks}/mo"
        assert integ["callback_urls"]["status"] == f"{hooks}/dlr"
        assert "ACME console" in integ["callback_urls"]["setup"]

        body = {"integration": iid, "sender_id": "+15005550199", "type": "mobile"}
        r = await gw.admin("POST", "/numbers", json=body)
        assert r.status_code == 422 and r.json()["code"] == "not_found_at_vendor", r.text
        r = await gw.admin("POST", "/numbers", json={**body, "sender_id": NUMBER})
        assert r.status_code == 201, r.text

        async with gw.client(auto_ack=True) as c, httpx.AsyncClient(timeout=WAIT) as http:
            sent = await c.send(PHONE, "hello from a plug-in", from_=NUMBER)
            states = []
            with trio.fail_after(WAIT):
                async for ev in c.events():
                    if isinstance(ev, api.Status) and ev.segment is None:
                        states.append(ev.state)
                        if ev.state == "en_route":
                            break
            r = await http.post(f"{hooks}/dlr", json={"id": f"acme-{sent.message_id}",
                                                      "status": "delivered"},
                                headers={"X-Acme-Token": TOKEN})
            assert r.status_code == 204, r.text
            r = await http.post(f"{hooks}/mo", json={"id": "in-1", "from": PHONE, "to": NUMBER,
                                                     "text": "hi acme"},
                                headers={"X-Acme-Token": TOKEN})
            assert r.status_code == 204, r.text
            bad = await http.post(f"{hooks}/mo", json={}, headers={"X-Acme-Token": "wrong"})
            assert bad.status_code == 403
            got_delivered = got_inbound = False
            with trio.fail_after(WAIT):
                async for ev in c.events():
                    if isinstance(ev, api.Status) and ev.segment is None \
                            and ev.message_id == sent.message_id and ev.state == "delivered":
                        got_delivered = True
                    if isinstance(ev, api.Inbound):
                        assert (ev.from_, ev.to, ev.text) == (PHONE, NUMBER, "hi acme")
                        got_inbound = True
                    if got_delivered and got_inbound:
                        break
        r = await gw.admin("GET", f"/messages/{sent.message_id}")
        assert r.json()["state"] == "delivered"
        assert r.json()["segments"][0]["vendor_message_id"] == f"acme-{sent.message_id}"
        rejected = await gw.wait_event(lambda e: e["payload"].get("kind") == "webhook_rejected",
                                       type_="operational")
        assert rejected["payload"]["integration"] == iid
