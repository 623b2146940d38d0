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

# --- end charsets and segmentation ---



# --- delivery receipts (rust/src/py/receipt.rs) -----------------------------

from collections.abc import Iterable

MESSAGE_STATES: dict[str, int]
"""message_state name -> number: SCHEDULED 0 (SMPP 5.0), ENROUTE 1, DELIVERED 2,
EXPIRED 3, DELETED 4, UNDELIVERABLE 5, ACCEPTED 6, UNKNOWN 7, REJECTED 8,
SKIPPED 9 (SMPP 5.0)."""

class Receipt:
    """A delivery receipt: the short_message text (SMPP 3.4 appendix B) and the
    receipted_message_id / message_state / network_error_code TLVs merged into
    one value; TLVs win where both say the same thing. Immutable; compares
    equal by content."""

    @property
    def message_id(self) -> str: ...
    @property
    def state(self) -> int:
        """SMPP message_state number (see MESSAGE_STATES); from the TLV, else
        from ``stat``, else 7 UNKNOWN."""
    @property
    def state_name(self) -> str: ...
    @property
    def stat(self) -> str | None:
        """The text's ``stat:`` value as sent, e.g. "DELIVRD"."""
    @property
    def is_final(self) -> bool:
        """No further state will follow (not SCHEDULED, ENROUTE or UNKNOWN)."""
    @property
    def is_success(self) -> bool:
        """DELIVERED."""
    @property
    def sub(self) -> int | None: ...
    @property
    def dlvrd(self) -> int | None: ...
    @property
    def submit_date(self) -> str | None:
        """As sent: YYMMDDhhmm or YYMMDDhhmmss (not interpreted)."""
    @property
    def done_date(self) -> str | None: ...
    @property
    def err(self) -> str | None:
        """The text's ``err:`` value as sent."""
    @property
    def error_code(self) -> int | None:
        """network_error_code's code, else ``err`` read as decimal (all
        digits) or hex (otherwise)."""
    @property
    def network_type(self) -> int | None:
        """network_error_code's network type (1 ANSI-136, 2 IS-95, 3 GSM...)."""
    @property
    def text(self) -> bytes | None:
        """Raw bytes after ``text:`` (in the SMSC's data_coding)."""
    @property
    def extra(self) -> list[tuple[str, str]]:
        """Unrecognised fields, in order, key as sent."""
    def id_keys(self) -> list[str]:
        """``receipt_id_keys(self.message_id)``."""

def parse_receipt(
    short_message: bytes,
    *,
    receipted_message_id: str | bytes | None = None,
    message_state: int | bytes | None = None,
    network_error_code: bytes | None = None,
) -> Receipt:
    """Parse a receipt. Raises SmppError when no message id is found in the
    text or TLVs (command_status ESME_RX_P_APPN, field "short_message"), when
    network_error_code is not 3 octets or message_state not 1 octet
    (ESME_RINVPARLEN)."""

def parse_receipts(
    items: Iterable[
        bytes
        | tuple[bytes, str | bytes | None, int | bytes | None, bytes | None]
    ],
) -> list[Receipt | SmppError]:
    """Batch parse_receipt: per item a Receipt or the SmppError instance."""

def receipt_id_keys(id: str) -> list[str]:
    """Keys under which a vendor message id may match, most specific first:
    the id as sent; "#" + lowercase hex of its value read as hex (dashes
    removed, if all hex digits); "#" + hex of its value read as decimal (if
    all decimal digits). So "123456" and "1E240" share "#1e240". Prefer
    exact matches; the "#" keys of different ids can coincide."""

def format_receipt(
    message_id: str,
    stat: str | int,
    err: str = "000",
    submit_date: str = "0000000000",
    done_date: str = "0000000000",
    sub: int = 1,
    dlvrd: int = 1,
    text: bytes = b"",
) -> bytes:
    """Build ``id:… sub:001 dlvrd:001 submit date:… done date:… stat:… err:…
    text:…``. ``stat`` may be a message_state number. Fields other than text
    must be non-empty without whitespace (SmppError otherwise)."""

# --- end delivery receipts ---
