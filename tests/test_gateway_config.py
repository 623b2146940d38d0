import pytest

from byosms.schemas.config import DEFAULT_TOML, load_config
from byosms.schemas.smpp import ConfigError


def test_embedded_default_decodes():
    c = load_config()
    assert c.simulator.enabled and c.integrations[0].id == "simulator"
    assert c.numbers[0].integration == "simulator"


@pytest.mark.parametrize(
    "patch,needle",
    [
        (("port = 8765", "port = 70000"), "websocket.port"),
        (("binds = 1", "binds = 11"), "binds"),
        (('provider = "smpp"', 'provider = "carrier-pigeon"'), "provider"),
        (('integration = "simulator"', 'integration = "nope"'), "unknown integration"),
        (('path = "byosms.db"', 'path = "byosms.db"\nbogus = 1'), "bogus"),
        (('id = "simulator"', 'id = "bad id!"'), "id"),
        (("binds = 1", 'binds = 1\nsource_npi = 2'), "source_npi"),
    ],
)
def test_bad_values_name_the_field(patch, needle):
    text = DEFAULT_TOML.replace(*patch, 1)
    with pytest.raises(ConfigError, match=needle):
        load_config(text)


def test_not_toml():
    with pytest.raises(ConfigError, match="TOML"):
        load_config("this is [not toml")


def test_missing_file(tmp_path):
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(tmp_path / "missing.toml")
