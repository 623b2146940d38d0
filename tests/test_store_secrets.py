"""Secrets at rest: AES-GCM under the store key, bound to integration and field."""

from __future__ import annotations

import base64
import logging
import os
import sqlite3

import pytest

from byosms.secret import Secret
from byosms.store import MissingKeyError, SecretKeyError, WrongKeyError, open_sqlite_store
from byosms.store.crypto import KEY_ENV, SecretBox, generate_key, load_key

PASSWORD = "pa55-w0rd-that-is-unique"


@pytest.fixture
def key() -> bytes:
    return os.urandom(32)


def raw_bytes(db) -> bytes:
    out = b""
    for suffix in ("", "-wal", "-shm"):
        if os.path.exists(str(db) + suffix):
            with open(str(db) + suffix, "rb") as f:
                out += f.read()
    return out


async def test_password_is_ciphertext_in_the_file(tmp_path, key):
    db = tmp_path / "s.db"
    async with open_sqlite_store(db, key=key) as s:
        i = await s.create_integration("bu", "smpp", "x",
                                       {"host": "h", "password": Secret(PASSWORD)})
        await s.update_integration(i.id, config={"host": "h", "token": Secret(PASSWORD + "T")})
        # in the WAL before a checkpoint...
        assert PASSWORD.encode() not in raw_bytes(db)
    # ...and in the main file after the checkpoint at close
    raw = raw_bytes(db)
    assert PASSWORD.encode() not in raw
    assert PASSWORD.encode("utf-16-le") not in raw
    with sqlite3.connect(db) as c:
        rows = c.execute("SELECT field, ciphertext FROM integration_secrets").fetchall()
    assert {f for f, _ in rows} == {"password", "token"}
    for _, ct in rows:
        assert len(ct) >= 12 + 16  # nonce + tag at least


async def test_reveal_is_the_only_way_and_is_masked(tmp_path, key, caplog):
    caplog.set_level(logging.DEBUG)
    async with open_sqlite_store(tmp_path / "s.db", key=key) as s:
        i = await s.create_integration("bu", "smpp", "x", {"password": Secret(PASSWORD)})
        got = await s.get_integration(i.id)
        listed = await s.list_integrations()
        for shown in (repr(i), repr(got), repr(listed), str(got.config), repr(s), repr(s._box)):
            assert PASSWORD not in shown
        secrets = await s.reveal_secrets(i.id)
        assert PASSWORD not in repr(secrets)
        assert secrets["password"].reveal() == PASSWORD
    assert PASSWORD not in caplog.text


async def test_wrong_key_is_refused_at_open(tmp_path, key):
    db = tmp_path / "s.db"
    async with open_sqlite_store(db, key=key) as s:
        await s.create_integration("bu", "smpp", "x", {"password": Secret(PASSWORD)})
    with pytest.raises(WrongKeyError, match="does not match"):
        async with open_sqlite_store(db, key=os.urandom(32)):
            pass
    async with open_sqlite_store(db, key=key) as s:  # the right key still works
        [i] = await s.list_integrations()
        assert (await s.reveal_secrets(i.id))["password"].reveal() == PASSWORD


async def test_missing_key_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.delenv(KEY_ENV, raising=False)
    with pytest.raises(MissingKeyError, match=KEY_ENV):
        async with open_sqlite_store(tmp_path / "s.db"):
            pass
    assert not (tmp_path / "s.db").exists()  # refused before touching the file


async def test_key_from_environment_and_key_file(tmp_path, monkeypatch):
    k = generate_key()
    monkeypatch.setenv(KEY_ENV, k)
    assert load_key() == base64.b64decode(k)
    async with open_sqlite_store(tmp_path / "s.db") as s:
        i = await s.create_integration("bu", "smpp", "x", {"password": Secret(PASSWORD)})
    kf = tmp_path / "key"
    kf.write_text(k + "\n")
    monkeypatch.setenv(KEY_ENV, generate_key())  # the file wins over the environment
    async with open_sqlite_store(tmp_path / "s.db", key_file=kf) as s:
        assert (await s.reveal_secrets(i.id))["password"].reveal() == PASSWORD


@pytest.mark.parametrize("bad", ["not base64!!", base64.b64encode(b"short").decode(), ""])
def test_malformed_keys(tmp_path, monkeypatch, bad):
    monkeypatch.setenv(KEY_ENV, bad)
    with pytest.raises(SecretKeyError):
        load_key()
    kf = tmp_path / "k"
    kf.write_text(bad)
    with pytest.raises(SecretKeyError):
        load_key(kf)
    with pytest.raises(MissingKeyError):
        load_key(tmp_path / "absent")


async def test_ciphertext_bound_to_integration_and_field(tmp_path, key):
    db = tmp_path / "s.db"
    async with open_sqlite_store(db, key=key) as s:
        a = await s.create_integration("bu", "smpp", "a", {"password": Secret(PASSWORD)})
        b = await s.create_integration("bu", "smpp", "b", {"password": Secret("other")})
    # an attacker with write access to the file swaps the ciphertexts
    with sqlite3.connect(db) as c:
        ct = c.execute("SELECT ciphertext FROM integration_secrets WHERE integration_id = ?",
                       (a.id,)).fetchone()[0]
        c.execute("UPDATE integration_secrets SET ciphertext = ? WHERE integration_id = ?",
                  (ct, b.id))
        c.execute("INSERT INTO integration_secrets VALUES (?, 'token', ?)", (a.id, ct))
    async with open_sqlite_store(db, key=key) as s:
        with pytest.raises(WrongKeyError):
            await s.reveal_secrets(b.id)  # a's ciphertext under b's id
        with pytest.raises(WrongKeyError):
            await s.reveal_secrets(a.id)  # a's password ciphertext as a's token


def test_nonces_are_fresh():
    box = SecretBox(os.urandom(32))
    cts = {box.seal("same", integration_id="i", field="f") for _ in range(100)}
    assert len(cts) == 100
    assert {box.open(c, integration_id="i", field="f").reveal() for c in cts} == {"same"}
    flipped = bytearray(next(iter(cts)))
    flipped[-1] ^= 1
    with pytest.raises(WrongKeyError):
        box.open(bytes(flipped), integration_id="i", field="f")
