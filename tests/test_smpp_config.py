import pytest

from byosms.schemas.smpp import NPI_VALUES, ConfigError, decode_smpp_config

BASE = {"host": "smsc.example.net", "system_id": "acme", "password": "s3cret"}


def test_seed_defaults():
    c = decode_smpp_config(BASE)
    assert (c.port, c.transport, c.bind_type, c.binds, c.messages_per_second) == (
        2776, "tls", "transceiver", 3, 20)
    assert (c.source_ton, c.source_npi, c.destination_ton, c.destination_npi) == (0, 0, 0, 0)
    assert c.outbound_plus_prefix is False
    assert c.warnings() == []


def test_password_never_shown():
    c = decode_smpp_config(BASE)
    assert "s3cret" not in repr(c)
    assert "s3cret" not in str(c.password)
    assert c.password.reveal() == "s3cret"


@pytest.mark.parametrize(
    "field,value,needle",
    [
        ("messages_per_second", 101, "messages_per_second"),
        ("messages_per_second", 0, "messages_per_second"),
        ("source_ton", 7, "source_ton"),
        ("destination_ton", -1, "destination_ton"),
        ("source_npi", 2, "source_npi"),
        ("destination_npi", 5, "destination_npi"),
        ("bind_type", "both", "bind_type"),
        ("transport", "udp", "transport"),
        ("port", 70000, "port"),
        ("system_id", "x" * 16, "system_id"),
        ("unknown_field", 1, "unknown_field"),
    ],
)
def test_bad_values_name_the_field(field, value, needle):
    with pytest.raises(ConfigError, match=needle):
        decode_smpp_config({**BASE, field: value})


@pytest.mark.parametrize("npi", NPI_VALUES)
def test_every_seed_npi_accepted(npi):
    assert decode_smpp_config({**BASE, "source_npi": npi, "destination_npi": npi}).source_npi == npi


def test_warnings():
    c = decode_smpp_config({**BASE, "port": 1234, "transport": "tcp", "bind_type": "transmitter"})
    w = " ".join(c.warnings())
    assert "1234" in w and "plain TCP" in w and "receiver bind" in w


def test_missing_password():
    with pytest.raises(ConfigError, match="password"):
        decode_smpp_config({"host": "h", "system_id": "a"})


@pytest.mark.parametrize("field,value", [
    ("password", "123456789"),        # 9 octets: SMPP 3.4 allows 8
    ("password", "€uro"),             # not one octet per character
    ("system_id", "x" * 16),
    ("system_id", "ĉ"),
    ("system_type", "x" * 13),
])
def test_credentials_longer_than_smpp_allows_are_refused(field, value):
    """Issue 15, defect 13: accepted on save, then every bind failed forever."""
    with pytest.raises(ConfigError, match=field) as e:
        decode_smpp_config({**BASE, field: value})
    if field == "password":
        assert value not in str(e.value)


def test_credentials_at_the_limit_are_accepted():
    c = decode_smpp_config({**BASE, "system_id": "x" * 15, "password": "pässwör8",
                            "system_type": "y" * 12})
    assert c.password.reveal() == "pässwör8"


def test_pem_fields_validated_and_ssl_context_built_from_content(tmp_path):
    """Issue 15, defect 11: certificates as PEM content; the client key is a
    Secret, loaded through a 0600 temporary file removed at once."""
    import glob
    import tempfile

    import trustme

    from byosms.providers.smpp.bind import client_ssl_context
    from byosms.secret import Secret

    ca = trustme.CA()
    leaf = ca.issue_cert("client")
    ca_pem = ca.cert_pem.bytes().decode()
    cert_pem = leaf.cert_chain_pems[0].bytes().decode()
    key_pem = leaf.private_key_pem.bytes().decode()
    c = decode_smpp_config({**BASE, "ca_pem": ca_pem, "client_cert_pem": cert_pem,
                            "client_key_pem": key_pem})
    assert isinstance(c.client_key_pem, Secret) and key_pem not in repr(c)
    before = set(glob.glob("/dev/shm/byosms-*")) | set(glob.glob(tempfile.gettempdir() + "/byosms-*"))
    ctx = client_ssl_context(c)
    assert ctx.get_ca_certs() and ctx.verify_mode.name == "CERT_REQUIRED"
    after = set(glob.glob("/dev/shm/byosms-*")) | set(glob.glob(tempfile.gettempdir() + "/byosms-*"))
    assert after == before  # the key did not stay on disk
    for bad, field in (({"ca_pem": "x"}, "ca_pem"),
                       ({"client_cert_pem": cert_pem}, "client_cert_pem"),
                       ({"client_cert_pem": cert_pem, "client_key_pem": "x"}, "client_key_pem"),
                       ({"ca_pem": ca_pem, "ca_file": "/etc/ssl/ca.pem"}, "ca_pem")):
        with pytest.raises(ConfigError, match=field):
            decode_smpp_config({**BASE, **bad})
