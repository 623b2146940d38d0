"""Issue 15 hardening, through `byosms serve` as a user runs it:

- defect 9: unauthenticated webhooks are counted, and reported in at most
  one `webhook_rejected` event per integration per interval (not one each);
- defect 11: certificates through the admin API are PEM content, host paths
  only from the operator's config file;
- defect 13: start-up errors and SMPP credentials too long in octets.
"""

from __future__ import annotations

import re

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
