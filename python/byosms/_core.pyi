"""Type stubs for the compiled ``byosms._core`` extension (hand-written: the
abi3 module exposes no signatures). Keep in sync with rust/src/py/."""

__version__: str

class SmppError(ValueError):
    """Invalid SMPP input (wire bytes, field values, charset or segmentation
    requests). ``command_status`` is the status to answer the peer with
    (generic_nack or the matching *_resp); ``field`` names what was wrong."""

    command_status: int
    field: str

# --- PDU codec (rust/src/py/pdu.rs) ----------------------------------------

# --- end PDU codec ---



# --- charsets and segmentation (rust/src/py/text.rs) ------------------------

# Errors (SmppError) raised here and their command_status / field:
#   text a named charset cannot encode   ESME_RSUBMITFAIL  "short_message"
#   unknown charset name                 ESME_RSUBMITFAIL  "charset"
#   bad concat / reference / language    ESME_RSUBMITFAIL  "concat" / "reference" / "national_language"
#   more than 255 parts                  ESME_RINVMSGLEN   "short_message"
#   message_payload over 65535 octets    ESME_RINVMSGLEN   "message_payload"
#   inbound bytes that don't decode      ESME_RX_P_APPN    "short_message"
#   binary / unsupported data_coding     ESME_RX_P_APPN    "data_coding"
#   malformed UDH                        ESME_RX_P_APPN    "short_message"
# ESME_RX_P_APPN is what an ESME answers a deliver_sm it can never process.

from typing import Literal

ConcatMethod = Literal["udh8", "udh16", "sar", "payload"]

#: National language identifiers (TS 23.038 6.2.1.2.4) with shift tables in
#: this build: 1 Turkish, 2 Spanish (single shift only), 3 Portuguese,
#: 4 Bengali, 5 Gujarati, 6 Hindi, 7 Kannada, 8 Malayalam, 9 Oriya,
#: 10 Punjabi, 11 Tamil, 12 Telugu, 13 Urdu (annex A.2 / A.3). With
#: ``national_language=N`` the encoder picks the default, N's single shift,
#: N's locking shift or both tables: the fewest parts, then the fewest UDH
#: IEs (0x24 / 0x25, 3 octets each), then the fewest septets.
NATIONAL_LANGUAGES: list[int]

class Chain:
    """Ordered (data_coding, charset) list of S8. ``None`` gives the seed's
    default chain: gsm_0338(0), ASCII(1), gsm_0338(2), ISO-8859-1(3),
    JIS0201(5), ISO-8859-5(6), ISO-8859-8(7), utf-16be(8). Charset names are
    case-insensitive with aliases (gsm, gsm7, ucs2, latin1, ia5, ...)."""

    def __init__(self, entries: list[tuple[int, str]] | None = None) -> None: ...
    @property
    def entries(self) -> list[tuple[int, str]]:
        """(dcs, canonical charset name) pairs in order."""
    def select(self, text: str) -> tuple[int, str]:
        """(dcs, charset) of the first entry that can represent ``text``."""
    def decode(self, data: bytes, dcs: int, *, udhi: bool = False, packed: bool = False) -> str:
        """Decode one short_message by data_coding (SMPP 3.4 5.2.19 and the
        TS 23.038 coding groups; this chain's entry for ``dcs`` wins). With
        ``udhi`` the UDH is stripped and its national language IEs select the
        GSM tables; ``packed`` reads GSM as packed septets."""
    def decode_parts(self, parts: list[bytes], dcs: int, *, udhi: bool = False, packed: bool = False) -> str:
        """Decode a reassembled message from its parts in order (e.g. what
        ``Reassembler.add_short_message`` returned)."""
    def __len__(self) -> int: ...

class Segmented:
    """A text split into short messages (one ``segment`` call)."""

    @property
    def dcs(self) -> int: ...
    @property
    def charset(self) -> str: ...
    @property
    def encoding(self) -> Literal["gsm7", "8bit", "ucs2"]: ...
    @property
    def count(self) -> int: ...
    @property
    def parts(self) -> list[bytes]:
        """short_message bytes (UDH included); for concat="payload" the one
        element is the message_payload value."""
    @property
    def udhi(self) -> bool:
        """Set esm_class UDHI (0x40) on every part."""
    @property
    def sar(self) -> list[tuple[int, int, int]] | None:
        """(sar_msg_ref_num, sar_total_segments, sar_segment_seqnum) per part
        for concat="sar" with more than one part, else None."""
    @property
    def units(self) -> int:
        """Septets (escapes count 2), octets, or UTF-16 code units."""
    @property
    def remaining(self) -> int:
        """Units still free in the last part."""
    @property
    def national_single(self) -> int | None: ...
    @property
    def national_locking(self) -> int | None: ...
    def __len__(self) -> int: ...

class Preview:
    @property
    def encoding(self) -> Literal["gsm7", "8bit", "ucs2"]: ...
    @property
    def dcs(self) -> int: ...
    @property
    def charset(self) -> str: ...
    @property
    def segments(self) -> int: ...
    @property
    def units(self) -> int: ...
    @property
    def remaining(self) -> int: ...
    @property
    def forced_by(self) -> list[str]:
        """Characters the chain's first charset cannot represent (why a later
        one, e.g. UCS-2, was chosen): up to 16, in order of appearance."""
    @property
    def national_single(self) -> int | None: ...
    @property
    def national_locking(self) -> int | None: ...

class Udh:
    @property
    def concat(self) -> tuple[int, int, int] | None:
        """(reference, total, seq) from IEI 0x00 or 0x08."""
    @property
    def reference_bits(self) -> Literal[8, 16] | None: ...
    @property
    def national_single(self) -> int | None: ...
    @property
    def national_locking(self) -> int | None: ...
    @property
    def ports(self) -> tuple[int, int] | None:
        """(destination port, originator port)."""
    @property
    def elements(self) -> list[tuple[int, bytes]]:
        """Every IE in order, unknown ones included."""
    @property
    def payload(self) -> bytes: ...
    @property
    def header_length(self) -> int:
        """Octets of the UDH including the UDHL octet."""
    @property
    def fill_bits(self) -> int:
        """Fill bits before the first septet of a packed GSM payload."""

class Expired:
    @property
    def source(self) -> str: ...
    @property
    def destination(self) -> str: ...
    @property
    def reference(self) -> int: ...
    @property
    def total(self) -> int: ...
    @property
    def first_ms(self) -> int: ...
    @property
    def reason(self) -> Literal["timeout", "evicted"]: ...
    @property
    def missing(self) -> list[int]: ...
    @property
    def received(self) -> list[int]: ...
    @property
    def parts(self) -> list[bytes | None]: ...

class Reassembler:
    """Sans-I/O collector of concatenated parts keyed by (source,
    destination, reference, total); time comes from the caller. At most
    ``max_pending`` incomplete groups are kept: the oldest is evicted and
    reported by the next ``expire``. Parts of a message completed within the
    last timeout are reported as duplicates."""

    def __init__(self, max_pending: int = 10000) -> None: ...
    def add(
        self, source: str, destination: str, reference: int, total: int, seq: int, payload: bytes, now_ms: int
    ) -> tuple[Literal["complete", "pending", "duplicate", "invalid"], list[bytes] | None]: ...
    def add_short_message(
        self, source: str, destination: str, short_message: bytes, now_ms: int
    ) -> tuple[Literal["complete", "pending", "duplicate", "invalid"], list[bytes] | None]:
        """Parse the UDH and add; parts are whole short_messages."""
    def expire(self, now_ms: int, timeout_ms: int) -> list[Expired]: ...
    @property
    def pending(self) -> int: ...
    @property
    def max_pending(self) -> int: ...
    def __len__(self) -> int: ...

def charset_names() -> list[str]: ...
def encode(text: str, charset: str) -> bytes:
    """gsm_0338 gives unpacked septets (one per octet)."""
def decode(data: bytes, charset: str) -> str: ...
def can_encode(text: str, charset: str) -> bool: ...
def gsm_pack(septets: bytes, fill_bits: int = 0) -> bytes: ...
def gsm_unpack(data: bytes, count: int | None = None, fill_bits: int = 0) -> bytes:
    """``count`` None: as many septets as the octets hold."""
def segment(
    text: str,
    chain: Chain | None = None,
    *,
    concat: ConcatMethod = "udh8",
    reference: int = 0,
    packed: bool = False,
    national_language: int | None = None,
) -> Segmented: ...
def segment_many(
    texts: list[str],
    chain: Chain | None = None,
    *,
    concat: ConcatMethod = "udh8",
    references: list[int] | None = None,
    packed: bool = False,
    national_language: int | None = None,
) -> list[Segmented]: ...
def preview(
    text: str, chain: Chain | None = None, *, concat: ConcatMethod = "udh8", national_language: int | None = None
) -> Preview:
    """concat="payload" is previewed as the udh8 split the SMSC makes."""
def parse_udh(short_message: bytes) -> Udh:
    """Parse the UDH at the start of a short_message whose esm_class has UDHI."""

# --- end charsets and segmentation ---



# --- delivery receipts (rust/src/py/receipt.rs) -----------------------------

# --- end delivery receipts ---
