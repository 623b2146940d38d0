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
#
# C-Octet string fields cross as str through Latin-1 (one code point per
# octet, so any octets a peer sent survive a round trip); bytes are accepted
# for them too. A field the command does not have raises AttributeError on
# access and TypeError as a keyword.

from collections.abc import Iterable, Sequence
from typing import Any, final

_SmeDest = tuple[int, int, str]  # (dest_addr_ton, dest_addr_npi, destination_addr)
_Unsuccess = tuple[int, int, str, int]  # (ton, npi, destination_addr, error_status_code)

@final
class Tlv:
    """An SMPP optional parameter: tag and raw value, kept byte for byte.
    Known tags (TLV_* constants) are length-checked when a Pdu using them is
    built, encoded or decoded; vendor tags 0x1400-0x3FFF pass through."""

    def __init__(self, tag: int, value: bytes | bytearray) -> None: ...
    @property
    def tag(self) -> int: ...
    @property
    def value(self) -> bytes: ...
    @property
    def name(self) -> str | None:
        """Spec name of a standard tag ("receipted_message_id"), else None."""
    def as_int(self) -> int | None:
        """Big-endian value of a standard integer tag or of a 1..4-octet
        vendor / unknown tag; None for standard string and octet tags."""
    def as_str(self) -> str:
        """The value up to its first NUL (or all of it), as Latin-1 text."""
    def __eq__(self, other: object, /) -> bool: ...
    def __hash__(self) -> int: ...

@final
class Pdu:
    """One SMPP 3.4 PDU, immutable. Built by ``Pdu("submit_sm", seq,
    source_addr=..., ...)``, by ``decode()`` or by ``Framer.feed()``. Field
    values are checked against the spec limits on construction (SmppError
    naming the field and the command_status to answer with)."""

    def __init__(
        self,
        command: str | int,
        sequence_number: int = 0,
        command_status: int = 0,
        *,
        system_id: str | bytes = ...,
        password: str | bytes = ...,
        system_type: str | bytes = ...,
        interface_version: int = ...,
        addr_ton: int = ...,
        addr_npi: int = ...,
        address_range: str | bytes = ...,
        service_type: str | bytes = ...,
        source_addr_ton: int = ...,
        source_addr_npi: int = ...,
        source_addr: str | bytes = ...,
        dest_addr_ton: int = ...,
        dest_addr_npi: int = ...,
        destination_addr: str | bytes = ...,
        esm_class: int = ...,
        protocol_id: int = ...,
        priority_flag: int = ...,
        schedule_delivery_time: str | bytes = ...,
        validity_period: str | bytes = ...,
        registered_delivery: int = ...,
        replace_if_present_flag: int = ...,
        data_coding: int = ...,
        sm_default_msg_id: int = ...,
        short_message: bytes | bytearray = ...,
        message_id: str | bytes = ...,
        dest_addresses: Sequence[_SmeDest | str] = ...,
        unsuccess_smes: Sequence[_Unsuccess] = ...,
        final_date: str | bytes = ...,
        message_state: int = ...,
        error_code: int = ...,
        esme_addr_ton: int = ...,
        esme_addr_npi: int = ...,
        esme_addr: str | bytes = ...,
        tlvs: Sequence[Tlv] | None = ...,
    ) -> None: ...
    @property
    def command_id(self) -> int: ...
    @property
    def command_name(self) -> str: ...
    @property
    def command_status(self) -> int: ...
    @property
    def sequence_number(self) -> int: ...
    @property
    def is_response(self) -> bool: ...
    @property
    def field_names(self) -> tuple[str, ...]:
        """This command's body fields in wire order, plus "tlvs" if it takes them."""
    @property
    def tlvs(self) -> list[Tlv]:
        """Optional parameters in wire order ([] for commands without any)."""
    def tlv(self, tag: int) -> Tlv | None:
        """The first TLV with this tag."""
    def receipt(self) -> Receipt | None:
        """The delivery receipt of a deliver_sm / data_sm (esm_class & 0x3C == 0x04, or a
        receipted_message_id TLV), parsed from short_message (message_payload when it is empty)
        and the receipted_message_id / message_state / network_error_code TLVs in one call.
        None for other PDUs; raises SmppError for a malformed receipt, like ``parse_receipt``."""
    def encode(self) -> bytes: ...
    def to_dict(self) -> dict[str, Any]:
        """Keyword arguments that rebuild the PDU: ``Pdu(**p.to_dict()) == p``."""
    def replace(self, **fields: Any) -> Pdu:
        """A copy with fields changed (sequence_number and command_status too)."""
    def __eq__(self, other: object, /) -> bool: ...
    def __hash__(self) -> int: ...
    # Body fields: each raises AttributeError on a command that lacks it.
    @property
    def system_id(self) -> str: ...
    @property
    def password(self) -> str: ...
    @property
    def system_type(self) -> str: ...
    @property
    def interface_version(self) -> int: ...
    @property
    def addr_ton(self) -> int: ...
    @property
    def addr_npi(self) -> int: ...
    @property
    def address_range(self) -> str: ...
    @property
    def service_type(self) -> str: ...
    @property
    def source_addr_ton(self) -> int: ...
    @property
    def source_addr_npi(self) -> int: ...
    @property
    def source_addr(self) -> str: ...
    @property
    def dest_addr_ton(self) -> int: ...
    @property
    def dest_addr_npi(self) -> int: ...
    @property
    def destination_addr(self) -> str: ...
    @property
    def esm_class(self) -> int: ...
    @property
    def protocol_id(self) -> int: ...
    @property
    def priority_flag(self) -> int: ...
    @property
    def schedule_delivery_time(self) -> str: ...
    @property
    def validity_period(self) -> str: ...
    @property
    def registered_delivery(self) -> int: ...
    @property
    def replace_if_present_flag(self) -> int: ...
    @property
    def data_coding(self) -> int: ...
    @property
    def sm_default_msg_id(self) -> int: ...
    @property
    def short_message(self) -> bytes: ...
    @property
    def message_id(self) -> str: ...
    @property
    def dest_addresses(self) -> list[_SmeDest | str]:
        """submit_multi destinations: SME tuples or distribution list names."""
    @property
    def unsuccess_smes(self) -> list[_Unsuccess]: ...
    @property
    def final_date(self) -> str: ...
    @property
    def message_state(self) -> int: ...
    @property
    def error_code(self) -> int: ...
    @property
    def esme_addr_ton(self) -> int: ...
    @property
    def esme_addr_npi(self) -> int: ...
    @property
    def esme_addr(self) -> str: ...

@final
class PduError:
    """A frame that did not decode (returned by Framer.feed, not raised).
    Answer it with generic_nack or the matching *_resp carrying
    ``command_status``; if ``fatal``, the stream lost its framing: answer
    generic_nack and close the session."""

    @property
    def command_id(self) -> int | None:
        """From the header, None when fewer than 8 octets were there."""
    @property
    def command_name(self) -> str | None: ...
    @property
    def sequence_number(self) -> int | None:
        """From the header, None when fewer than 16 octets were there."""
    @property
    def command_status(self) -> int: ...
    @property
    def field(self) -> str: ...
    @property
    def message(self) -> str: ...
    @property
    def fatal(self) -> bool: ...

DEFAULT_MAX_COMMAND_LENGTH: int  # 65536

@final
class Framer:
    """Sans-I/O stream framer: call ``feed`` with each socket read."""

    def __init__(self, max_command_length: int = 65536) -> None: ...
    def feed(self, data: bytes | bytearray | memoryview) -> list[Pdu | PduError]:
        """Every complete PDU buffered so far, decoded, in order. A fatal
        PduError (bad command_length) is the last item; feed() raises
        SmppError from then on."""
    @property
    def buffered(self) -> bytes:
        """Octets received but not yet returned as a frame."""
    @property
    def max_command_length(self) -> int: ...
    @property
    def failed(self) -> bool: ...

def decode(data: bytes | bytearray | memoryview) -> Pdu:
    """Exactly one complete PDU; raises SmppError."""

def encode_submit_sm(
    sequence_number: int,
    source_addr: str,
    destination_addr: str,
    short_message: bytes,
    *,
    data_coding: int = 0,
    esm_class: int = 0,
    registered_delivery: int = 1,
    source_addr_ton: int = 0,
    source_addr_npi: int = 0,
    dest_addr_ton: int = 1,
    dest_addr_npi: int = 1,
    service_type: str = "",
    protocol_id: int = 0,
    priority_flag: int = 0,
    validity_period: str = "",
    schedule_delivery_time: str = "",
    tlvs: Sequence[Tlv] | None = None,
) -> bytes: ...
def encode_deliver_sm(
    sequence_number: int,
    source_addr: str,
    destination_addr: str,
    short_message: bytes,
    *,
    data_coding: int = 0,
    esm_class: int = 0,
    registered_delivery: int = 0,
    source_addr_ton: int = 1,
    source_addr_npi: int = 1,
    dest_addr_ton: int = 0,
    dest_addr_npi: int = 0,
    service_type: str = "",
    protocol_id: int = 0,
    priority_flag: int = 0,
    validity_period: str = "",
    schedule_delivery_time: str = "",
    tlvs: Sequence[Tlv] | None = None,
) -> bytes: ...
def encode_submit_sm_resp(sequence_number: int, message_id: str, command_status: int = 0) -> bytes:
    """With command_status != 0 and message_id "" the body is omitted (spec 4.4.2)."""
def encode_deliver_sm_resp(sequence_number: int, command_status: int = 0) -> bytes: ...
def encode_enquire_link(sequence_number: int) -> bytes: ...
def encode_enquire_link_resp(sequence_number: int) -> bytes: ...
def encode_generic_nack(sequence_number: int, command_status: int) -> bytes: ...
def encode_many(pdus: Iterable[Pdu]) -> bytes:
    """The PDUs' encodings concatenated, in one call."""
def status_name(command_status: int) -> str | None: ...
def status_description(command_status: int) -> str | None: ...
def command_name(command_id: int) -> str | None: ...
def tlv_name(tag: int) -> str | None: ...

# command_id of every SMPP 3.4 command
CMD_ALERT_NOTIFICATION: int
CMD_BIND_RECEIVER: int
CMD_BIND_RECEIVER_RESP: int
CMD_BIND_TRANSCEIVER: int
CMD_BIND_TRANSCEIVER_RESP: int
CMD_BIND_TRANSMITTER: int
CMD_BIND_TRANSMITTER_RESP: int
CMD_CANCEL_SM: int
CMD_CANCEL_SM_RESP: int
CMD_DATA_SM: int
CMD_DATA_SM_RESP: int
CMD_DELIVER_SM: int
CMD_DELIVER_SM_RESP: int
CMD_ENQUIRE_LINK: int
CMD_ENQUIRE_LINK_RESP: int
CMD_GENERIC_NACK: int
CMD_OUTBIND: int
CMD_QUERY_SM: int
CMD_QUERY_SM_RESP: int
CMD_REPLACE_SM: int
CMD_REPLACE_SM_RESP: int
CMD_SUBMIT_MULTI: int
CMD_SUBMIT_MULTI_RESP: int
CMD_SUBMIT_SM: int
CMD_SUBMIT_SM_RESP: int
CMD_UNBIND: int
CMD_UNBIND_RESP: int

# command_status values (spec 5.1.3)
ESME_ROK: int
ESME_RINVMSGLEN: int
ESME_RINVCMDLEN: int
ESME_RINVCMDID: int
ESME_RINVBNDSTS: int
ESME_RALYBND: int
ESME_RINVPRTFLG: int
ESME_RINVREGDLVFLG: int
ESME_RSYSERR: int
ESME_RINVSRCADR: int
ESME_RINVDSTADR: int
ESME_RINVMSGID: int
ESME_RBINDFAIL: int
ESME_RINVPASWD: int
ESME_RINVSYSID: int
ESME_RCANCELFAIL: int
ESME_RREPLACEFAIL: int
ESME_RMSGQFUL: int
ESME_RINVSERTYP: int
ESME_RINVNUMDESTS: int
ESME_RINVDLNAME: int
ESME_RINVDESTFLAG: int
ESME_RINVSUBREP: int
ESME_RINVESMCLASS: int
ESME_RCNTSUBDL: int
ESME_RSUBMITFAIL: int
ESME_RINVSRCTON: int
ESME_RINVSRCNPI: int
ESME_RINVDSTTON: int
ESME_RINVDSTNPI: int
ESME_RINVSYSTYP: int
ESME_RINVREPFLAG: int
ESME_RINVNUMMSGS: int
ESME_RTHROTTLED: int
ESME_RINVSCHED: int
ESME_RINVEXPIRY: int
ESME_RINVDFTMSGID: int
ESME_RX_T_APPN: int
ESME_RX_P_APPN: int
ESME_RX_R_APPN: int
ESME_RQUERYFAIL: int
ESME_RINVOPTPARSTREAM: int
ESME_ROPTPARNOTALLWD: int
ESME_RINVPARLEN: int
ESME_RMISSINGOPTPARAM: int
ESME_RINVOPTPARAMVAL: int
ESME_RDELIVERYFAILURE: int
ESME_RUNKNOWNERR: int

# standard optional parameter tags (spec 5.3.2)
TLV_DEST_ADDR_SUBUNIT: int
TLV_DEST_NETWORK_TYPE: int
TLV_DEST_BEARER_TYPE: int
TLV_DEST_TELEMATICS_ID: int
TLV_SOURCE_ADDR_SUBUNIT: int
TLV_SOURCE_NETWORK_TYPE: int
TLV_SOURCE_BEARER_TYPE: int
TLV_SOURCE_TELEMATICS_ID: int
TLV_QOS_TIME_TO_LIVE: int
TLV_PAYLOAD_TYPE: int
TLV_ADDITIONAL_STATUS_INFO_TEXT: int
TLV_RECEIPTED_MESSAGE_ID: int
TLV_MS_MSG_WAIT_FACILITIES: int
TLV_PRIVACY_INDICATOR: int
TLV_SOURCE_SUBADDRESS: int
TLV_DEST_SUBADDRESS: int
TLV_USER_MESSAGE_REFERENCE: int
TLV_USER_RESPONSE_CODE: int
TLV_SOURCE_PORT: int
TLV_DESTINATION_PORT: int
TLV_SAR_MSG_REF_NUM: int
TLV_LANGUAGE_INDICATOR: int
TLV_SAR_TOTAL_SEGMENTS: int
TLV_SAR_SEGMENT_SEQNUM: int
TLV_SC_INTERFACE_VERSION: int
TLV_CALLBACK_NUM_PRES_IND: int
TLV_CALLBACK_NUM_ATAG: int
TLV_NUMBER_OF_MESSAGES: int
TLV_CALLBACK_NUM: int
TLV_DPF_RESULT: int
TLV_SET_DPF: int
TLV_MS_AVAILABILITY_STATUS: int
TLV_NETWORK_ERROR_CODE: int
TLV_MESSAGE_PAYLOAD: int
TLV_DELIVERY_FAILURE_REASON: int
TLV_MORE_MESSAGES_TO_SEND: int
TLV_MESSAGE_STATE: int
TLV_USSD_SERVICE_OP: int
TLV_DISPLAY_TIME: int
TLV_SMS_SIGNAL: int
TLV_MS_VALIDITY: int
TLV_ALERT_ON_MESSAGE_DELIVERY: int
TLV_ITS_REPLY_TYPE: int
TLV_ITS_SESSION_INFO: int

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
def encode_text(text: str, charset: str) -> bytes:
    """gsm_0338 gives unpacked septets (one per octet)."""
def decode_text(data: bytes, charset: str) -> str: ...
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


def status_frame(heads: str, payloads: str) -> tuple[str, int] | None:
    """A page of stored events as websocket frame text (a JSON array of API
    `status` messages, as `byosms.api.server.event_messages` makes them) and
    the page's last cursor; None when the page holds anything else. `heads`:
    JSON `[[cursor, type, created], ...]`; `payloads`: the stored JSON
    objects, comma-separated, in the same order. Releases the GIL."""

# --- the store's batch planners (rust/src/store_sets.rs) ---

#: A plan's roll-up: message updates (state, code, cause, message ids JSON);
#: status events per business unit (unit, payload slices JSON, payloads,
#: count); the messages that became final; per segment written, the message's
#: state after it and its event's (unit, position in the unit's insert).
_RollUp = tuple[
    list[tuple[str, int | None, str | None, str]],
    list[tuple[str, str, bytes, int]],
    list[str],
    list[tuple[str, int, int]],
]

def plan_submits(
    heads: str, outcomes: bytes
) -> tuple[str, list[tuple[int, int]], _RollUp, list[int]] | None:
    """For `byosms.store.sqlite_sets.record_submits`: the segment rows
    (`_SQL_LEAN_BY_ID`) checked against `outcomes` (JSON `[[segment_id,
    vendor_message_id or null], ...]`): the submit update's JSON, the
    (position, segment id) of each outcome it writes, the roll-up, and the
    positions left to the per-item op. None when a string holds a NUL or the
    rows are unreadable. Releases the GIL."""

def plan_receipts(
    by_id: str, by_vendor: str, receipts: bytes
) -> tuple[list[tuple[str, int | None, str | None, int | None, str]], list[tuple[int, int]],
           _RollUp, list[int]] | None:
    """`plan_submits` for receipts (JSON `[[segment_id or null, names vendor
    ids, state, generic_code, generic_cause, vendor_code], ...]`): the segment
    updates per (state, code, cause, vendor code) with their ids' JSON."""
