"""Every example in docs/websocket-api.md decodes into the schema, and the
schema refuses what it must."""

import re
from pathlib import Path

import msgspec
import pytest

from byosms.schemas import api

DOC = Path(__file__).resolve().parents[1] / "docs" / "websocket-api.md"
BLOCK = re.compile(r"```json (client|server)\n(.*?)```", re.S)
EXAMPLES = BLOCK.findall(DOC.read_text())


def test_doc_has_examples_of_every_type():
    seen = set()
    for side, body in EXAMPLES:
        data = msgspec.json.decode(body)
        for item in data if isinstance(data, list) else [data]:
            seen.add((side, item["type"]))
    client = {("client", t) for t in ("auth", "send", "preview", "ack", "ping")}
    server = {("server", t) for t in ("ready", "accepted", "rejected", "preview_result", "pong",
                                      "error", "status", "inbound", "keyword", "operational")}
    assert client | server <= seen


@pytest.mark.parametrize("side,body", EXAMPLES)
def test_every_example_decodes(side, body):
    dec = api.client_decoder if side == "client" else api.server_decoder
    msg = dec.decode(body.encode())
    # and survives an encode/decode round trip unchanged
    assert dec.decode(api.encoder.encode(msg)) == msg


@pytest.mark.parametrize(
    "frame,needle",
    [
        (b'{"type":"sned","id":"1"}', "sned"),
        (b'{"type":"send","id":"1","to":"+1"}', "text"),
        (b'{"type":"send","id":"","to":"+1","text":"x"}', "id"),
        (b'{"type":"ack","cursor":-1}', "cursor"),
        (b'{"type":"send","id":"1","to":"+1","text":"x","bogus":1}', "bogus"),
        (b'{"type":"send","id":"1","to":"+1","text":"' + b"x" * (api.MAX_TEXT_CHARS + 1) + b'"}',
         "text"),
    ],
)
def test_bad_messages_name_the_problem(frame, needle):
    with pytest.raises(msgspec.ValidationError, match=needle):
        api.client_decoder.decode(frame)
