"""Configuration of one SMPP integration (PRODUCT.md S1–S9).

Every field carries the seed's default; ranges and allowed sets are checked at
decode time and the error names the field and what is allowed.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

import msgspec

from byosms.schemas.decode import ConfigError, decode_config
from byosms.secret import Secret

#: S1: ports the seed lists for SMPP over TLS. We accept any port and warn outside it.
SEED_PORTS = frozenset(
    {1776, 2775, 2776, 2780, 3550, 3601, 3775, 4200, 4331, 4332, 7777, 8887, 10000, 29999,
     30001, 52775}
)
#: S3: type of number 0–6, numbering plan indicators the seed allows.
TON_RANGE = range(0, 7)
NPI_VALUES = (0, 1, 3, 4, 6, 8, 9, 10, 13, 18)
#: S4: messages per second per integration.
DEFAULT_MPS = 20
MAX_MPS = 100
#: S6: binds per integration (the seed's fixed 3 is our default).
DEFAULT_BINDS = 3

#: S9: SMPP 3.4 (5.2.1–5.2.3) limits of the bind credentials, in octets
#: without the terminating NUL.
CREDENTIAL_OCTETS = {"system_id": 15, "password": 8, "system_type": 12}

#: A CA bundle or certificate chain is a few KB; this is far beyond any.
MAX_PEM_CHARS = 256 * 1024
#: Fields naming files on the gateway's host -> the field giving the same
#: as PEM content. Only the operator's config file may set them: through
#: the admin API they would let a tenant probe the host's files or use
#: another tenant's client key (issue 15, defect 11).
HOST_PATH_FIELDS = {"ca_file": "ca_pem", "client_cert_file": "client_cert_pem",
                    "client_key_file": "client_key_pem"}

Port = Annotated[int, msgspec.Meta(ge=1, le=65535)]
Ton = Annotated[int, msgspec.Meta(ge=0, le=6, description="type of number 0–6 (S3)")]
Npi = Annotated[int, msgspec.Meta(ge=0, le=18, description="one of 0,1,3,4,6,8,9,10,13,18 (S3)")]
Seconds = Annotated[float, msgspec.Meta(gt=0, le=3600)]


class SmppIntegrationConfig(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    # S1 connection
    host: Annotated[str, msgspec.Meta(min_length=1, max_length=253)]
    port: Port = 2776
    transport: Literal["tls", "tcp"] = "tls"
    # TLS trust and client certificate (mTLS) as PEM content: what the admin
    # API takes. The key is a Secret (encrypted at rest, masked in answers).
    ca_pem: Annotated[str, msgspec.Meta(max_length=MAX_PEM_CHARS)] | None = None
    client_cert_pem: Annotated[str, msgspec.Meta(max_length=MAX_PEM_CHARS)] | None = None
    client_key_pem: Secret | None = None
    # The same as files on the gateway's host: only the operator's config
    # file may name them (the admin API refuses them: HOST_PATH_FIELDS).
    ca_file: str | None = None
    client_cert_file: str | None = None
    client_key_file: str | None = None
    server_hostname: str | None = None
    # S9 credentials (SMPP 3.4 limits: system_id 15, password 8, system_type 12 octets)
    system_id: Annotated[str, msgspec.Meta(min_length=1, max_length=15)]
    password: Secret
    system_type: Annotated[str, msgspec.Meta(max_length=12)] = ""
    # S5, S6
    bind_type: Literal["transceiver", "transmitter", "receiver"] = "transceiver"
    binds: Annotated[int, msgspec.Meta(ge=1, le=10)] = DEFAULT_BINDS
    # S4
    messages_per_second: Annotated[int, msgspec.Meta(ge=1, le=MAX_MPS)] = DEFAULT_MPS
    # S2
    inbound_plus_prefix: bool = False
    outbound_plus_prefix: bool = False
    # S3
    source_ton: Ton = 0
    source_npi: Npi = 0
    destination_ton: Ton = 0
    destination_npi: Npi = 0
    # Session behaviour
    window: Annotated[int, msgspec.Meta(ge=1, le=1024)] = 10
    response_timeout: Seconds = 30.0
    enquire_link_interval: Seconds = 30.0
    enquire_link_timeout: Seconds = 10.0
    concatenation: Literal["udh8", "udh16", "sar", "payload"] = "udh8"
    # S7: custom advanced configuration, merged over the defaults.
    advanced_config: dict[str, Any] | None = None
    #: Segments without a final receipt after this long are failed with
    #: generic code 9 (unknown) and an event. Default 48 h.
    receipt_timeout: Annotated[float, msgspec.Meta(ge=1, le=30 * 86400)] = 48 * 3600.0

    def __post_init__(self) -> None:
        # SMPP 3.4 5.2: C-Octet Strings limited in octets, not characters;
        # the codec writes one octet per character up to U+00FF (Latin-1).
        # A value that can't be sent must be refused here, not at every bind.
        for name, limit in CREDENTIAL_OCTETS.items():
            value = getattr(self, name)
            text = value.reveal() if isinstance(value, Secret) else value
            try:
                octets = len(text.encode("latin-1"))
            except UnicodeEncodeError:
                raise ValueError(
                    f"`{name}` must be characters up to U+00FF (one octet each in SMPP)"
                ) from None
            if octets > limit:
                shown = "" if isinstance(value, Secret) else f", got {octets}"
                raise ValueError(f"`{name}` is at most {limit} octets in SMPP 3.4{shown}")
        for name in ("source_npi", "destination_npi"):
            value = getattr(self, name)
            if value not in NPI_VALUES:
                raise ValueError(
                    f"`{name}` must be one of {', '.join(map(str, NPI_VALUES))}, got {value}"
                )
        if (self.client_cert_file is None) != (self.client_key_file is None):
            raise ValueError("`client_cert_file` and `client_key_file` go together")
        if (self.client_cert_pem is None) != (self.client_key_pem is None):
            raise ValueError("`client_cert_pem` and `client_key_pem` go together")
        for path, pem in HOST_PATH_FIELDS.items():
            if getattr(self, path) is not None and getattr(self, pem) is not None:
                raise ValueError(f"give `{pem}` or `{path}`, not both")
        if self.ca_pem is not None:
            pem_certificates(self.ca_pem, "ca_pem")
        if self.client_cert_pem is not None:
            pem_certificates(self.client_cert_pem, "client_cert_pem")

    def warnings(self) -> list[str]:
        """Legal but doubtful settings, for the operator to see (S1, S5)."""
        out = []
        if self.port not in SEED_PORTS:
            out.append(
                f"port {self.port} is not one of the usual SMPP-over-TLS ports "
                f"({', '.join(map(str, sorted(SEED_PORTS)))})"
            )
        if self.transport == "tcp":
            out.append("transport is plain TCP: traffic and credentials are not encrypted")
        if self.bind_type == "transmitter":
            out.append(
                "bind_type transmitter cannot receive delivery receipts or inbound messages "
                "unless a receiver bind exists for this account"
            )
        return out


def pem_certificates(text: str, field: str) -> list[Any]:
    """The X.509 certificates of a PEM text (at least one); ValueError
    naming ``field`` otherwise."""
    from cryptography import x509

    if "-----BEGIN CERTIFICATE-----" not in text:
        raise ValueError(f"`{field}` must be PEM certificates (-----BEGIN CERTIFICATE-----)")
    try:
        certs = x509.load_pem_x509_certificates(text.encode("ascii"))
    except (ValueError, UnicodeEncodeError) as e:
        raise ValueError(f"`{field}` is not a readable PEM certificate: {_short(e)}") from None
    return certs


def pem_private_key(text: str, field: str) -> Any:
    """The private key of a PEM text (unencrypted); ValueError naming
    ``field`` otherwise — never quoting the text."""
    from cryptography.hazmat.primitives import serialization

    if "PRIVATE KEY-----" not in text:
        raise ValueError(f"`{field}` must be a PEM private key (-----BEGIN PRIVATE KEY-----)")
    try:
        return serialization.load_pem_private_key(text.encode("ascii"), password=None)
    except TypeError:
        raise ValueError(f"`{field}` is encrypted: give the key without a passphrase "
                         "(it is stored encrypted)") from None
    except (ValueError, UnicodeEncodeError):
        raise ValueError(f"`{field}` is not a readable PEM private key") from None


def _short(e: Exception) -> str:
    return str(e).splitlines()[0][:200] if str(e) else type(e).__name__


def check_client_key(config: SmppIntegrationConfig) -> None:
    """The client key is a readable PEM key of the client certificate.
    Apart from ``__post_init__`` because it needs the secret's value (the
    lifecycle decodes with placeholders for secrets when it only wants the
    warnings)."""
    if config.client_key_pem is None or config.client_cert_pem is None:
        return
    from cryptography.hazmat.primitives import serialization

    key = pem_private_key(config.client_key_pem.reveal(), "client_key_pem")
    cert = pem_certificates(config.client_cert_pem, "client_cert_pem")[0]
    raw = serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    if key.public_key().public_bytes(*raw) != cert.public_key().public_bytes(*raw):
        raise ValueError("`client_key_pem` is not the key of the first certificate of "
                         "`client_cert_pem`")


def decode_smpp_config(data: dict[str, Any] | bytes | str) -> SmppIntegrationConfig:
    """Decode and validate; raise ConfigError naming the field on any problem."""
    config = decode_config(data, SmppIntegrationConfig)
    try:
        check_client_key(config)
    except ValueError as e:
        raise ConfigError(str(e)) from None
    return config
