"""X-Twilio-Signature (T1, T2): ours against the official twilio package's
RequestValidator, the reference implementation (PROVIDERS.md)."""

from __future__ import annotations

import hashlib
import json
import urllib.parse

from hypothesis import given, settings
from hypothesis import strategies as st
from twilio.request_validator import RequestValidator

from byosms.providers.twilio import compute_signature, validate_signature
from byosms.testing.twilio_fake import twilio_signature

TOKEN = "12345678901234567890123456789012"


class MultiDict:
    """What RequestValidator reads repeated form fields from (getall)."""

    def __init__(self, pairs):
        self.pairs = list(pairs)

    def __iter__(self):
        return iter({k for k, _ in self.pairs})

    def __bool__(self):
        return bool(self.pairs)

    def getall(self, name):
        return [v for k, v in self.pairs if k == name]


URLS = [
    "https://gw.example.com/vendors/v1/twilio/acme/mo",
    "https://gw.example.com:443/vendors/v1/twilio/acme/mo",
    "http://gw.example.com:80/vendors/v1/twilio/acme/status",
    "https://gw.example.com:8443/vendors/v1/twilio/acme/status?m=msg-1&x=%20y",
    "http://127.0.0.1:50123/vendors/v1/twilio/a%2Fb/status?m=m%C3%A9",
]

PARAMS = [
    [],
    [("From", "+15551234567"), ("To", "+15005550006"), ("Body", "hello")],
    [("Body", "é ✓ 🎉"), ("MediaUrl", "b"), ("MediaUrl", "a"), ("MediaUrl", "a"), ("Empty", "")],
]


def test_known_vector():
    # Twilio's documented example (docs "Webhooks security": Auth Token
    # 12345), independent of both implementations.
    url = "https://mycompany.com/myapp.php?foo=1&bar=2"
    params = {
        "CallSid": "CA1234567890ABCDE",
        "Caller": "+12349013030",
        "Digits": "1234",
        "From": "+12349013030",
        "To": "+18005551212",
    }
    assert compute_signature("12345", url, params) == "0/KCTR6DLpKmkAf8muzZqo1nDgQ="
    assert validate_signature("12345", url, "0/KCTR6DLpKmkAf8muzZqo1nDgQ=", params=params)


def test_theirs_pass_ours_and_ours_pass_theirs():
    v = RequestValidator(TOKEN)
    for url in URLS:
        for pairs in PARAMS:
            theirs = v.compute_signature(url, MultiDict(pairs))
            ours = compute_signature(TOKEN, url, pairs)
            assert ours == theirs == twilio_signature(TOKEN, url, pairs)
            assert validate_signature(TOKEN, url, theirs, params=pairs)
            assert v.validate(url, MultiDict(pairs), ours)


def test_default_port_both_ways():
    v = RequestValidator(TOKEN)
    pairs = PARAMS[1]
    bare = "https://gw.example.com/vendors/v1/twilio/acme/mo"
    ported = "https://gw.example.com:443/vendors/v1/twilio/acme/mo"
    for signed, checked in ((bare, ported), (ported, bare)):
        sig = v.compute_signature(signed, MultiDict(pairs))
        assert validate_signature(TOKEN, checked, sig, params=pairs)
        assert v.validate(checked, MultiDict(pairs), sig)
    http_bare = "http://gw.example.com/x"
    sig = compute_signature(TOKEN, "http://gw.example.com:80/x", pairs)
    assert validate_signature(TOKEN, http_bare, sig, params=pairs)
    # A port that is neither default nor the one signed does not pass.
    sig = compute_signature(TOKEN, "https://gw.example.com:8443/x", pairs)
    assert not validate_signature(TOKEN, "https://gw.example.com:9443/x", sig, params=pairs)
    assert not v.validate("https://gw.example.com:9443/x", MultiDict(pairs), sig)


def tampered(pairs, url):
    yield url + "x", pairs
    yield url.replace("gw.example", "gw.evil"), pairs
    if "?" in url:
        yield url.replace("m=", "m=1"), pairs
    if pairs:
        yield url, pairs[:-1]
        yield url, [*pairs[:-1], (pairs[-1][0], pairs[-1][1] + "!")]
    yield url, [*pairs, ("Extra", "1")]


def test_tampered_fail_both():
    v = RequestValidator(TOKEN)
    for url in URLS[:4]:
        for pairs in PARAMS:
            sig = compute_signature(TOKEN, url, pairs)
            for u, p in tampered(pairs, url):
                assert not validate_signature(TOKEN, u, sig, params=p), (u, p)
                assert not v.validate(u, MultiDict(p), sig), (u, p)
            bad = compute_signature(TOKEN + "x", url, pairs)
            assert not validate_signature(TOKEN, url, bad, params=pairs)
            assert not v.validate(url, MultiDict(pairs), bad)
            assert not validate_signature(TOKEN, url, None, params=pairs)
            assert not validate_signature(TOKEN, url, "", params=pairs)
            assert not validate_signature(TOKEN, url, sig[:-2], params=pairs)


def test_repeated_values_are_deduplicated_and_sorted():
    url = URLS[0]
    a = compute_signature(TOKEN, url, [("M", "b"), ("M", "a"), ("M", "a")])
    assert a == compute_signature(TOKEN, url, [("M", "a"), ("M", "b")])
    assert a == compute_signature(TOKEN, url, {"M": ["b", "a"]})
    assert a != compute_signature(TOKEN, url, [("M", "a")])


def test_json_body_variant():
    v = RequestValidator(TOKEN)
    body = json.dumps({"MessageSid": "SM1", "MessageStatus": "delivered"})
    digest = hashlib.sha256(body.encode()).hexdigest()
    url = f"https://gw.example.com/vendors/v1/twilio/acme/status?bodySHA256={digest}"
    sig = v.compute_signature(url, {})
    assert validate_signature(TOKEN, url, sig, body=body.encode())
    assert v.validate(url, body, sig)
    ours = compute_signature(TOKEN, url)
    assert v.validate(url, body, ours)
    # The body is not the one hashed in the (signed) URL.
    other = body.replace("delivered", "failed")
    assert not validate_signature(TOKEN, url, sig, body=other.encode())
    assert not v.validate(url, other, sig)
    # The hash in the URL changed: the URL signature breaks.
    digest2 = hashlib.sha256(other.encode()).hexdigest()
    url2 = url.replace(digest, digest2)
    assert not validate_signature(TOKEN, url2, sig, body=other.encode())
    assert not v.validate(url2, other, sig)


names = st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E), min_size=1, max_size=8)
values = st.text(max_size=12).filter(lambda s: "\x00" not in s)


@settings(max_examples=200, deadline=None)
@given(
    pairs=st.lists(st.tuples(names, values), max_size=6),
    port=st.sampled_from([None, 443, 8443]),
    query=st.dictionaries(names, values, max_size=2),
    flip=st.integers(min_value=0, max_value=27),
)
def test_agrees_with_reference(pairs, port, query, flip):
    netloc = "gw.example.com" + (f":{port}" if port else "")
    url = f"https://{netloc}/vendors/v1/twilio/acme/mo"
    if query:
        url += "?" + urllib.parse.urlencode(query)
    v = RequestValidator(TOKEN)
    theirs = v.compute_signature(url, MultiDict(pairs))
    assert compute_signature(TOKEN, url, pairs) == theirs
    assert validate_signature(TOKEN, url, theirs, params=pairs)
    # Flip one character of the signature: both refuse.
    i = flip % len(theirs)
    bad = theirs[:i] + ("A" if theirs[i] != "A" else "B") + theirs[i + 1 :]
    assert validate_signature(TOKEN, url, bad, params=pairs) == v.validate(url, MultiDict(pairs), bad) is False
