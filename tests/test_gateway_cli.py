"""`byosms demo`, `byosms serve` and `byosms apikey create` as a user runs them."""

from __future__ import annotations

import subprocess
import sys

import pytest

BYOSMS = [sys.executable, "-m", "byosms"]


def run(*args: str, timeout: float = 60, **kw) -> subprocess.CompletedProcess:
    return subprocess.run([*BYOSMS, *args], capture_output=True, text=True, timeout=timeout,
                          **kw)


def test_demo_exits_0(tmp_path):
    p = run("demo", "--data-dir", str(tmp_path))
    assert p.returncode == 0, p.stdout + p.stderr
    out = p.stdout
    assert "accepted" in out and "3 segment(s), gsm7" in out and "ucs2" in out
    assert out.count(" delivered:") == 3
    assert "inbound from +14155550199" in out
    assert "rejected: opted_out" in out
    assert out.rstrip().endswith("demo OK")
    assert (tmp_path / "byosms.db").exists()


@pytest.mark.parametrize("cmd", [["serve"], ["apikey", "create"], ["demo"]])
def test_every_flag_has_help(cmd):
    import argparse

    from byosms.cli import _build_parser

    parser = _build_parser()
    for name in cmd:
        sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
        parser = sub.choices[name]
    flags = [a for a in parser._actions if a.option_strings and a.dest != "help"]
    assert flags
    for a in flags:
        assert a.help and len(a.help) > 10, a.option_strings
    assert run(*cmd, "--help").returncode == 0


def test_apikey_create_prints_a_working_token(tmp_path):
    cfg = tmp_path / "gw.toml"
    cfg.write_text('[store]\npath = "x.db"\n')
    p = run("apikey", "create", "--business-unit", "acme", "--name", "ci", "--config", str(cfg))
    assert p.returncode == 0, p.stderr
    token = p.stdout.split()[0]
    key_file = tmp_path / "x.db.key"
    assert key_file.exists() and (key_file.stat().st_mode & 0o777) == 0o600

    import trio

    from byosms.store import open_sqlite_store

    async def check():
        async with open_sqlite_store(tmp_path / "x.db", key_file=key_file) as store:
            key = await store.verify_api_key(token)
            assert key is not None and key.business_unit == "acme" and key.name == "ci"

    trio.run(check)


def test_serve_bad_config_names_the_field(tmp_path):
    cfg = tmp_path / "gw.toml"
    cfg.write_text('[websocket]\nport = 99999\n')
    p = run("serve", "--config", str(cfg))
    assert p.returncode == 2
    assert "websocket.port" in p.stderr
