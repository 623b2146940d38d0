"""The gateway's configuration file (TOML), decoded into msgspec Structs.

`byosms serve --config FILE` reads it; with no file the embedded default runs
the gateway on a local SQLite file against the built-in SMSC simulator. A bad
value gives an error naming the field (`$.integrations[0].smpp.port`) and what
is allowed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

import msgspec

from byosms.schemas.smpp import ConfigError, SmppIntegrationConfig
from byosms.secret import dec_hook

Port = Annotated[int, msgspec.Meta(ge=0, le=65535)]
Name = Annotated[str, msgspec.Meta(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")]


class Listen(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    host: str = "127.0.0.1"
    port: Port = 0


Seconds = Annotated[float, msgspec.Meta(gt=0)]
Count = Annotated[int, msgspec.Meta(ge=1)]


class WebsocketConfig(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """`[websocket]`: where the websocket API listens (the keys of [web]) and
    what one client may hold (docs/websocket-api.md "Limits"). Each limit
    has the name of the `byosms.api.ApiLimits` field it sets."""

    host: str = "127.0.0.1"
    port: Port = 8765
    #: Before authentication: connections at once (a new one over the cap
    #: evicts the oldest), seconds from TCP accept to a verified key, and
    #: seconds for their close handshake.
    max_unauthenticated: Count = 64
    auth_timeout: Seconds = 5.0
    preauth_close_timeout: Seconds = 1.0
    #: Authenticated connections: in all, per business unit, per API key.
    max_connections: Count = 1_000
    max_connections_per_unit: Count = 200
    max_connections_per_key: Count = 50
    #: Request frames processed at once per connection, and their bytes.
    inflight_frames: Count = 16
    inflight_bytes: Count = 4 * 1024 * 1024
    #: Outgoing frames queued per connection, and their bytes.
    send_queue: Count = 32
    send_queue_bytes: Count = 4 * 1024 * 1024
    #: A frame the client hasn't taken in this long closes it (1008).
    write_timeout: Seconds = 60.0
    #: Close handshake of an authenticated connection.
    close_timeout: Seconds = 5.0
    #: Sends per second per connection, and the burst.
    send_rate: Annotated[float, msgspec.Meta(gt=0)] = 20_000.0
    send_burst: Annotated[int, msgspec.Meta(ge=1000)] = 4_000

    def limits(self) -> dict[str, Any]:
        """The limits as keyword arguments (host and port left out)."""
        return {f: getattr(self, f) for f in self.__struct_fields__ if f not in ("host", "port")}


class StoreConfig(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    #: SQLite file; relative paths are relative to the config file's folder.
    path: str = "byosms.db"
    #: 32-byte key (base64) for secrets at rest; else BYOSMS_SECRET_KEY.
    secret_key_file: str | None = None
    synchronous: Literal["FULL", "NORMAL"] = "FULL"
    #: The bound of the SQLite WAL file (MB). Past a quarter of it the store's
    #: writer starts the WAL over between two transactions; past half of it
    #: writes wait for that. docs/design.md, "The store": bounded WAL.
    wal_limit_mb: Annotated[int, msgspec.Meta(ge=1, le=1 << 20)] = 64


class SimulatorConfig(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """The built-in SMSC simulator, started in-process (demo, trials)."""

    enabled: bool = False
    listen: Listen = msgspec.field(default_factory=lambda: Listen(port=0))
    system_id: str = "byosms"
    password: str = "secret"
    tls: bool = True
    receipt_delay: float = 0.05


class IntegrationEntry(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    id: Name
    business_unit: Name = "default"
    name: str = ""
    #: A provider name of the registry: "smpp", "twilio" or an installed
    #: plug-in's. Checked (with its configuration) when the gateway starts.
    provider: Annotated[str, msgspec.Meta(min_length=1, max_length=64)] = "smpp"
    active: bool = True
    #: The provider's configuration: `[integrations.config]` for any
    #: provider; `[integrations.smpp]` / `[integrations.twilio]` are the same
    #: table under its provider's name (kept from earlier releases).
    #: For SMPP, `host = "simulator"` points at the built-in simulator.
    config: dict[str, Any] | None = None
    smpp: dict[str, Any] | None = None
    twilio: dict[str, Any] | None = None

    def body(self) -> dict[str, Any]:
        """The provider configuration table, wherever it was given."""
        named = getattr(self, self.provider, None) if self.provider in ("smpp", "twilio") else None
        return self.config if self.config is not None else named or {}

    def __post_init__(self) -> None:
        named = [t for t in ("smpp", "twilio") if getattr(self, t) is not None]
        if any(t != self.provider for t in named):
            raise ValueError(f"integration `{self.id}` has provider `{self.provider}` but an "
                             f"[integrations.{named[0]}] table")
        if self.config is not None and named:
            raise ValueError(f"integration `{self.id}`: give [integrations.config] or "
                             f"[integrations.{named[0]}], not both")
        if self.config is None and not named:
            raise ValueError(f"integration `{self.id}` has provider `{self.provider}` but no "
                             f"[integrations.config] table")
        if self.provider == "smpp":
            try:
                msgspec.convert(self.body(), SmppIntegrationConfig, dec_hook=dec_hook)
            except msgspec.ValidationError as e:
                raise ValueError(f"integration `{self.id}`: {e}") from None


class NumberEntry(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    number: str
    integration: Name
    type: Literal["local", "mobile", "toll_free", "short_code", "alphanumeric"] = "mobile"
    country: str | None = None
    display_name: str = ""


class GatewayConfig(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    websocket: WebsocketConfig = msgspec.field(default_factory=WebsocketConfig)
    web: Listen = msgspec.field(default_factory=lambda: Listen(port=8080))
    #: Base URL providers use to reach our webhooks (D3).
    public_base_url: str | None = None
    store: StoreConfig = msgspec.field(default_factory=StoreConfig)
    simulator: SimulatorConfig = msgspec.field(default_factory=SimulatorConfig)
    integrations: list[IntegrationEntry] = []
    numbers: list[NumberEntry] = []
    log_level: Literal["debug", "info", "warning", "error"] = "info"

    def __post_init__(self) -> None:
        seen: set[str] = set()
        for entry in self.integrations:
            if entry.id in seen:
                raise ValueError(f"integration id `{entry.id}` appears twice")
            seen.add(entry.id)
        for n in self.numbers:
            if n.integration not in seen:
                raise ValueError(f"number {n.number}: unknown integration `{n.integration}`")


#: The embedded default: everything local, the simulator over TLS.
DEFAULT_TOML = """\
[websocket]
host = "127.0.0.1"
port = 8765

[web]
host = "127.0.0.1"
port = 8080

[store]
path = "byosms.db"

[simulator]
enabled = true
system_id = "byosms"
password = "secret"

[[integrations]]
id = "simulator"
name = "Built-in SMSC simulator"
provider = "smpp"

[integrations.smpp]
host = "simulator"
system_id = "byosms"
password = "secret"
binds = 1

[[numbers]]
number = "+14155550100"
integration = "simulator"
type = "mobile"
display_name = "Demo sender"
"""


def load_config(source: str | bytes | Path | None = None) -> GatewayConfig:
    """Decode a TOML config (a path, or its text); None gives the embedded default."""
    if source is None:
        data: str | bytes = DEFAULT_TOML
    elif isinstance(source, Path):
        try:
            data = source.read_bytes()
        except OSError as e:
            raise ConfigError(f"cannot read config file {source}: {e.strerror}") from None
    else:
        data = source
    try:
        return msgspec.toml.decode(data, type=GatewayConfig, dec_hook=dec_hook)
    except msgspec.ValidationError as e:
        raise ConfigError(str(e)) from None
    except msgspec.DecodeError as e:
        raise ConfigError(f"not valid TOML: {e}") from None
