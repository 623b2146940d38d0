//! SMPP delivery receipts (SMPP 3.4 appendix B, section 5.3.2.12 TLVs).
//!
//! A receipt arrives as a deliver_sm (esm_class message type 0x04) whose
//! short_message carries a text such as
//!
//! ```text
//! id:0123456789 sub:001 dlvrd:001 submit date:2401311200 done date:2401311201 stat:DELIVRD err:000 text:Hello
//! ```
//!
//! and/or the receipted_message_id, message_state and network_error_code
//! TLVs. [`parse_receipt`] merges both into one [`Receipt`].
//!
//! Appendix B is only "an example format", so real SMSCs vary. The text
//! parser therefore does not match a fixed layout; it reads `key:value`
//! fields separated by whitespace and tolerates:
//! - any key case and `_`/`-`/space spelling (`ID:`, `Submit Date:`,
//!   `submit_date:`, `DONE-DATE:`), `status:` for `stat:` and `error:` for
//!   `err:`;
//! - missing fields, unknown extra fields (kept in order as `(key, value)`),
//!   a space after the colon (`id: 123`), runs of whitespace;
//! - dates of any length (10 digits YYMMDDhhmm, 12 with seconds), kept as
//!   sent: the core has no clock and no time zone to interpret them with;
//! - ids in any spelling (decimal, hex, UUID-like): kept as sent, see
//!   [`id_keys`] for correlation;
//! - `text:` is always the last field: everything after its colon is the
//!   (raw, possibly binary) text, colons included;
//! - `err:` decimal or hex/alphanumeric.
//!
//! Parsing is one linear pass over the bytes; no input can panic it.
//! Receipts carried in message_payload instead of short_message are parsed
//! the same way: pass the payload bytes as `short_message`.

use std::borrow::Cow;

use crate::error::{CodecError, Result};
use crate::status;

/// TLV tag of receipted_message_id (SMPP 3.4 section 5.3.2.12), C-Octet string.
pub const TAG_RECEIPTED_MESSAGE_ID: u16 = 0x001E;
/// TLV tag of message_state (SMPP 3.4 section 5.3.2.35), 1 octet.
pub const TAG_MESSAGE_STATE: u16 = 0x0427;
/// TLV tag of network_error_code (SMPP 3.4 section 5.3.2.31), 3 octets.
pub const TAG_NETWORK_ERROR_CODE: u16 = 0x0423;

/// network_error_code is exactly 3 octets: network type, then a 2-octet
/// error code (SMPP 3.4 section 5.3.2.31).
pub const NETWORK_ERROR_CODE_LEN: usize = 3;

/// Status given to a short_message that is not a receipt at all (and has no
/// TLVs to stand in for it). The deliver_sm itself was well formed, so none
/// of the length/format statuses fit; the ESME simply cannot use its
/// content, and redelivering the same bytes will not change that, hence the
/// *permanent* receiver application error (SMPP 3.4 section 5.1.3). The
/// engine may still choose to acknowledge with ESME_ROK and log instead.
pub const NOT_A_RECEIPT_STATUS: u32 = status::ESME_RX_P_APPN;

/// SMPP message_state (SMPP 3.4 section 5.2.28; 0 and 9 from SMPP 5.0
/// section 4.7.15, which some SMSCs already send).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum MessageState {
    /// SMPP 5.0 only: scheduled, delivery not yet attempted.
    Scheduled = 0,
    Enroute = 1,
    Delivered = 2,
    Expired = 3,
    Deleted = 4,
    Undeliverable = 5,
    Accepted = 6,
    Unknown = 7,
    Rejected = 8,
    /// SMPP 5.0 only: accepted but deliberately not transmitted.
    Skipped = 9,
}

impl MessageState {
    /// Every state with its message_state name, in numeric order.
    pub const ALL: [(MessageState, &'static str); 10] = [
        (MessageState::Scheduled, "SCHEDULED"),
        (MessageState::Enroute, "ENROUTE"),
        (MessageState::Delivered, "DELIVERED"),
        (MessageState::Expired, "EXPIRED"),
        (MessageState::Deleted, "DELETED"),
        (MessageState::Undeliverable, "UNDELIVERABLE"),
        (MessageState::Accepted, "ACCEPTED"),
        (MessageState::Unknown, "UNKNOWN"),
        (MessageState::Rejected, "REJECTED"),
        (MessageState::Skipped, "SKIPPED"),
    ];

    pub fn from_u8(v: u8) -> Option<MessageState> {
        Self::ALL.get(usize::from(v)).map(|(s, _)| *s)
    }

    pub fn as_u8(self) -> u8 {
        self as u8
    }

    /// The message_state name (SMPP 3.4 section 5.2.28), e.g. "UNDELIVERABLE".
    pub fn name(self) -> &'static str {
        Self::ALL[self as usize].1
    }

    /// The 7-letter `stat:` value of appendix B, e.g. "UNDELIV".
    pub fn stat(self) -> &'static str {
        match self {
            MessageState::Scheduled => "SCHEDLD",
            MessageState::Enroute => "ENROUTE",
            MessageState::Delivered => "DELIVRD",
            MessageState::Expired => "EXPIRED",
            MessageState::Deleted => "DELETED",
            MessageState::Undeliverable => "UNDELIV",
            MessageState::Accepted => "ACCEPTD",
            MessageState::Unknown => "UNKNOWN",
            MessageState::Rejected => "REJECTD",
            MessageState::Skipped => "SKIPPED",
        }
    }

    /// Whether no further state change will follow. Per the SMPP 5.0 state
    /// table (4.7.15): SCHEDULED and ENROUTE are intermediate; UNKNOWN is
    /// "may be temporary or permanent", so it does not close the message
    /// either (the engine's expiry timer does); all others are final.
    pub fn is_final(self) -> bool {
        !matches!(self, MessageState::Scheduled | MessageState::Enroute | MessageState::Unknown)
    }

    /// Only DELIVERED means the handset got the message.
    pub fn is_success(self) -> bool {
        self == MessageState::Delivered
    }

    /// The state of a `stat:` value, case-insensitive. Besides the appendix B
    /// abbreviations it accepts the full words and the misspellings seen in
    /// the wild (DELIVERED, UNDELIVERABLE, UNDELIVERED, FAILED, ...), and a
    /// bare message_state number. None when unrecognised.
    pub fn from_stat(stat: &str) -> Option<MessageState> {
        Self::from_stat_bytes(stat.as_bytes())
    }

    /// [`MessageState::from_stat`] on the raw bytes of the text, so the
    /// parser need not validate UTF-8 first: non-ASCII never matches anyway.
    fn from_stat_bytes(stat: &[u8]) -> Option<MessageState> {
        let s = trim_bytes(stat);
        if s.len() > MAX_STAT_LEN {
            return None;
        }
        // A bare message_state number, spelt as u8::from_str accepts it
        // (one optional '+'); out of range falls through to the names.
        let digits = s.strip_prefix(b"+").unwrap_or(s);
        if let Some(n) = parse_digits(digits).and_then(|n| u8::try_from(n).ok()) {
            return MessageState::from_u8(n);
        }
        let mut buf = [0u8; MAX_STAT_LEN];
        let mut len = 0;
        for &b in s {
            // EN_ROUTE, EN-ROUTE and "EN ROUTE" all mean ENROUTE.
            if b == b'_' || b == b'-' || b == b' ' {
                continue;
            }
            if let Some(slot) = buf.get_mut(len) {
                *slot = b.to_ascii_uppercase();
            }
            len += 1;
        }
        let v = u128::from_le_bytes(buf);
        STATS.iter().find(|&&(l, k, _)| l == len && k == v).map(|&(_, _, state)| state)
    }
}

/// `stat:` spellings, normalised (uppercase, no `_`, `-` or space).
const STATS: [(usize, u128, MessageState); 26] = {
    use MessageState::*;
    const fn e(s: &[u8], st: MessageState) -> (usize, u128, MessageState) {
        (s.len(), pack(s), st)
    }
    [
        // The appendix B abbreviations first: by far the most common.
        e(b"DELIVRD", Delivered),
        e(b"UNDELIV", Undeliverable),
        e(b"EXPIRED", Expired),
        e(b"REJECTD", Rejected),
        e(b"ENROUTE", Enroute),
        e(b"ACCEPTD", Accepted),
        e(b"UNKNOWN", Unknown),
        e(b"DELETED", Deleted),
        e(b"ENROUTED", Enroute),
        e(b"SENT", Enroute),
        e(b"BUFFERED", Enroute),
        e(b"DELIVERED", Delivered),
        e(b"DELIVRED", Delivered),
        e(b"DELIVERD", Delivered),
        e(b"EXPIRD", Expired),
        e(b"DELETD", Deleted),
        e(b"UNDELIVERABLE", Undeliverable),
        e(b"UNDELIVERED", Undeliverable),
        e(b"UNDELIVRD", Undeliverable),
        e(b"FAILED", Undeliverable),
        e(b"ACCEPTED", Accepted),
        e(b"UNKNWN", Unknown),
        e(b"REJECTED", Rejected),
        e(b"SCHEDLD", Scheduled),
        e(b"SCHEDULED", Scheduled),
        e(b"SKIPPED", Skipped),
    ]
};

/// Longest `stat:` spelling we recognise; anything longer is unrecognised
/// without scanning it.
const MAX_STAT_LEN: usize = 16;

/// A byte range of [`Receipt`]'s buffer. u32 rather than usize halves the
/// receipt (it is moved several times on its way into a Python object):
/// [`parse_receipt`] refuses anything longer than [`MAX_RECEIPT_LEN`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Span {
    start: u32,
    end: u32,
}

impl Span {
    /// Only for offsets into a buffer of at most [`MAX_RECEIPT_LEN`]
    /// octets, which fit.
    fn new(start: usize, end: usize) -> Span {
        Span { start: start as u32, end: end as u32 }
    }

    fn of(self, buf: &[u8]) -> &[u8] {
        buf.get(self.start as usize..self.end as usize).unwrap_or(&[])
    }
}

/// Longest receipt text plus receipted_message_id taken. The wire cannot
/// come close (short_message is at most 254 octets, message_payload at most
/// 65535 by its 2-octet TLV length, SMPP 3.4 sections 5.2.21 and 5.3.2.32);
/// the bound only keeps spans 32-bit.
pub const MAX_RECEIPT_LEN: usize = u32::MAX as usize;

/// One delivery receipt, text and TLVs merged.
///
/// The text fields are kept as spans of one owned copy of the input (the
/// short_message, then the receipted_message_id TLV), so building a receipt
/// costs one allocation (two with extra fields) however many fields it has;
/// the accessors convert on demand. Equality compares field values, not the
/// layout of the text they came from.
#[derive(Debug, Clone)]
pub struct Receipt {
    buf: Vec<u8>,
    id: Span,
    stat: Option<Span>,
    submit_date: Option<Span>,
    done_date: Option<Span>,
    err: Option<Span>,
    text: Option<Span>,
    extra: Vec<(Span, Span)>,
    /// message_state TLV, else the state of `stat:`, else UNKNOWN.
    pub state: MessageState,
    pub sub: Option<u32>,
    pub dlvrd: Option<u32>,
    /// network_error_code's error code, else `err:` as a number (see
    /// [`parse_err`]).
    pub error_code: Option<u32>,
    /// network_error_code's network type (1 ANSI-136, 2 IS-95, 3 GSM, ...).
    pub network_type: Option<u8>,
}

impl Receipt {
    fn str_of(&self, span: Span) -> Cow<'_, str> {
        String::from_utf8_lossy(span.of(&self.buf))
    }

    /// The SMSC's message id (receipted_message_id TLV, else the text's id:).
    pub fn message_id(&self) -> Cow<'_, str> {
        self.str_of(self.id)
    }

    /// `stat:` exactly as sent.
    pub fn stat(&self) -> Option<Cow<'_, str>> {
        self.stat.map(|s| self.str_of(s))
    }

    /// As sent: YYMMDDhhmm or YYMMDDhhmmss, not interpreted.
    pub fn submit_date(&self) -> Option<Cow<'_, str>> {
        self.submit_date.map(|s| self.str_of(s))
    }

    pub fn done_date(&self) -> Option<Cow<'_, str>> {
        self.done_date.map(|s| self.str_of(s))
    }

    /// `err:` exactly as sent.
    pub fn err(&self) -> Option<Cow<'_, str>> {
        self.err.map(|s| self.str_of(s))
    }

    /// The raw bytes after `text:` (in whatever data_coding the SMSC used).
    pub fn text(&self) -> Option<&[u8]> {
        self.text.map(|s| s.of(&self.buf))
    }

    /// Unrecognised `key:value` fields in order of appearance; keys as sent
    /// but with runs of whitespace folded to one space.
    pub fn extra(&self) -> impl ExactSizeIterator<Item = (Cow<'_, str>, Cow<'_, str>)> + '_ {
        self.extra.iter().map(|&(k, v)| (normalise_space(self.str_of(k)), self.str_of(v)))
    }

    pub fn is_final(&self) -> bool {
        self.state.is_final()
    }

    pub fn is_success(&self) -> bool {
        self.state.is_success()
    }

    pub fn id_keys(&self) -> Vec<String> {
        id_keys(&self.message_id())
    }
}

impl PartialEq for Receipt {
    fn eq(&self, o: &Self) -> bool {
        self.state == o.state
            && self.sub == o.sub
            && self.dlvrd == o.dlvrd
            && self.error_code == o.error_code
            && self.network_type == o.network_type
            && self.message_id() == o.message_id()
            && self.stat() == o.stat()
            && self.submit_date() == o.submit_date()
            && self.done_date() == o.done_date()
            && self.err() == o.err()
            && self.text() == o.text()
            && self.extra().eq(o.extra())
    }
}

impl Eq for Receipt {}

/// The receipt TLVs of a deliver_sm, as found on the wire (all optional).
#[derive(Debug, Clone, Copy, Default)]
pub struct ReceiptTlvs<'a> {
    /// receipted_message_id value; a trailing NUL terminator is allowed.
    pub receipted_message_id: Option<&'a [u8]>,
    /// message_state value (1 octet).
    pub message_state: Option<u8>,
    /// network_error_code value (must be 3 octets).
    pub network_error_code: Option<&'a [u8]>,
}

/// The fields of a receipt text as spans of it, before merging with TLVs.
/// Empty values are absent.
#[derive(Debug, Clone, Default, PartialEq)]
struct TextFields {
    id: Option<Span>,
    sub: Option<Span>,
    dlvrd: Option<Span>,
    submit_date: Option<Span>,
    done_date: Option<Span>,
    stat: Option<Span>,
    err: Option<Span>,
    text: Option<Span>,
    extra: Vec<(Span, Span)>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Key {
    Id,
    Sub,
    Dlvrd,
    SubmitDate,
    DoneDate,
    Stat,
    Err,
    Text,
}

/// Longest key spelling that can be a known key once normalised
/// ("submit_date" and friends); longer keys are extras without a lookup.
const MAX_KNOWN_KEY_LEN: usize = 16;

/// Up to 16 bytes as one integer, so that a key or stat spelling is
/// recognised with integer compares instead of one memcmp per candidate.
/// The length is compared alongside: the padding is NUL, which `stat:` may
/// contain.
const fn pack(s: &[u8]) -> u128 {
    let mut v = 0u128;
    let mut i = 0;
    while i < s.len() && i < 16 {
        v |= (s[i] as u128) << (8 * i);
        i += 1;
    }
    v
}

/// Known keys, normalised (lowercase, no `_`, `-` or whitespace).
const KEYS: [(usize, u128, Key); 10] = [
    (2, pack(b"id"), Key::Id),
    (3, pack(b"sub"), Key::Sub),
    (5, pack(b"dlvrd"), Key::Dlvrd),
    (10, pack(b"submitdate"), Key::SubmitDate),
    (8, pack(b"donedate"), Key::DoneDate),
    (4, pack(b"stat"), Key::Stat),
    (6, pack(b"status"), Key::Stat),
    (3, pack(b"err"), Key::Err),
    (5, pack(b"error"), Key::Err),
    (4, pack(b"text"), Key::Text),
];

/// Recognise a key, ignoring case and `_`, `-`, space.
fn known_key(raw: &[u8]) -> Option<Key> {
    // Cheap rejection first: this runs for every field and candidate key
    // word, and most extras start with another letter.
    if raw.len() > MAX_KNOWN_KEY_LEN
        || !matches!(raw.first().map(u8::to_ascii_lowercase), Some(b'i' | b's' | b'd' | b'e' | b't'))
    {
        return None;
    }
    let mut buf = [0u8; MAX_KNOWN_KEY_LEN];
    let mut len = 0;
    for &b in raw {
        if CLASS[usize::from(b)] & KEY_SEP != 0 {
            continue;
        }
        // Lowercasing by OR 0x20 is exact here: every known key is letters
        // only, and only 'X' and 'x' OR to 'x'.
        if let Some(slot) = buf.get_mut(len) {
            *slot = b | 0x20;
        }
        len += 1;
    }
    let v = u128::from_le_bytes(buf);
    KEYS.iter().find(|&&(l, k, _)| l == len && k == v).map(|&(_, _, key)| key)
}

/// Byte classes for the tokenizer, one table lookup per byte.
const SPACE: u8 = 1;
const KEY_CHAR: u8 = 2;
const ALPHA: u8 = 4;
const COLON: u8 = 8;
/// Ignored inside a key: `_`, `-` and whitespace ("submit_date").
const KEY_SEP: u8 = 16;
const CLASS: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        if c.is_ascii_whitespace() || c == 0 {
            t[b] = SPACE | KEY_SEP;
        } else if c.is_ascii_alphabetic() {
            t[b] = KEY_CHAR | ALPHA;
        } else if c == b'_' || c == b'-' {
            t[b] = KEY_CHAR | KEY_SEP;
        } else if c.is_ascii_digit() || c == b'.' {
            t[b] = KEY_CHAR;
        } else if c == b':' {
            t[b] = COLON;
        }
        b += 1;
    }
    t
};

/// NUL counts as whitespace: some SMSCs pad or terminate the text with it.
/// Only ASCII: a non-ASCII character (even a Unicode space) is content.
fn is_space(b: u8) -> bool {
    CLASS[usize::from(b)] & SPACE != 0
}

fn is_space_char(c: char) -> bool {
    c.is_ascii_whitespace() || c == '\0'
}

const LANES: u64 = 0x0101_0101_0101_0101;
const HIGH: u64 = 0x8080_8080_8080_8080;

/// The first index at or after `i` whose byte has a class in `stop`
/// (SPACE, optionally COLON), else `sm.len()`. Eight bytes at a time: every
/// space byte is below 0x21, so a word with no byte below 0x21 (and no ':'
/// when asked) is skipped whole; the lowest flagged byte of the classic
/// "has byte less than" trick is exact, and is checked against the table
/// since control bytes other than whitespace are also below 0x21.
fn scan(sm: &[u8], mut i: usize, stop: u8) -> usize {
    while let Some(chunk) = sm.get(i..i + 8) {
        let mut w = [0u8; 8];
        w.copy_from_slice(chunk);
        let w = u64::from_le_bytes(w);
        let mut m = w.wrapping_sub(LANES * 0x21) & !w & HIGH;
        if stop & COLON != 0 {
            let x = w ^ (LANES * u64::from(b':'));
            m |= x.wrapping_sub(LANES) & !x & HIGH;
        }
        if m == 0 {
            i += 8;
            continue;
        }
        let at = i + (m.trailing_zeros() / 8) as usize;
        if sm.get(at).is_some_and(|&b| CLASS[usize::from(b)] & stop != 0) {
            return at;
        }
        i = at + 1;
    }
    while sm.get(i).is_some_and(|&b| CLASS[usize::from(b)] & stop == 0) {
        i += 1;
    }
    i
}

/// A key is a word: it starts with a letter and has only letters, digits,
/// `_`, `-` or `.`. This keeps times ("12:30") and most free text from
/// being mistaken for fields.
fn is_key_word(w: &[u8]) -> bool {
    match w.first() {
        Some(&b) if CLASS[usize::from(b)] & ALPHA != 0 => {}
        _ => return false,
    }
    w.iter().all(|&b| CLASS[usize::from(b)] & KEY_CHAR != 0)
}

/// A bare (non-field) token.
#[derive(Debug, Clone, Copy)]
struct Token {
    start: usize,
    end: usize,
}

/// Most words in a key ("submit date" is 2); a bare word that is not part
/// of one extends the previous value instead.
const MAX_KEY_WORDS: usize = 3;

#[derive(Clone, Copy)]
struct Field {
    key: Option<Key>,
    key_start: usize,
    key_end: usize,
    /// Value span; empty (start == end) until a value is seen.
    val_start: usize,
    val_end: usize,
}

impl TextFields {
    /// File a finished field: a known key's first value goes to its slot,
    /// anything else (unknown keys, repeats) to `extra` in order.
    fn file(&mut self, f: Field) {
        let key = Span::new(f.key_start, f.key_end);
        if f.val_end <= f.val_start {
            // "err:" with nothing after it: absent, but an unknown key
            // still shows up among the extras.
            if f.key.is_none() {
                self.extra.push((key, Span::new(f.val_start, f.val_start)));
            }
            return;
        }
        let value = Span::new(f.val_start, f.val_end);
        let slot = match f.key {
            Some(Key::Id) => &mut self.id,
            Some(Key::Sub) => &mut self.sub,
            Some(Key::Dlvrd) => &mut self.dlvrd,
            Some(Key::SubmitDate) => &mut self.submit_date,
            Some(Key::DoneDate) => &mut self.done_date,
            Some(Key::Stat) => &mut self.stat,
            Some(Key::Err) => &mut self.err,
            // Text never gets here: it ends the token loop.
            Some(Key::Text) | None => {
                self.extra.push((key, value));
                return;
            }
        };
        if slot.is_none() {
            *slot = Some(value);
        } else {
            // A repeated known key: the first one wins, the repeat is not
            // lost.
            self.extra.push((key, value));
        }
    }
}

/// The appendix B layout exactly as the spec prints it: these keys in this
/// order, lowercase, one space between fields, each value non-empty and
/// without whitespace, then `text:` or the end.
const APPENDIX_B_KEYS: [(&[u8], Key); 7] = [
    (b"id:", Key::Id),
    (b"sub:", Key::Sub),
    (b"dlvrd:", Key::Dlvrd),
    (b"submit date:", Key::SubmitDate),
    (b"done date:", Key::DoneDate),
    (b"stat:", Key::Stat),
    (b"err:", Key::Err),
];

/// Most SMSCs send exactly the appendix B layout; for that text the general
/// tokenizer below gives just these spans, so they are read straight off
/// with literal compares. None as soon as anything differs (case, spacing,
/// order, an empty value, extra fields): the general parser then decides.
fn parse_appendix_b(sm: &[u8]) -> Option<TextFields> {
    let mut out = TextFields::default();
    let mut i = 0;
    for (n, &(key, k)) in APPENDIX_B_KEYS.iter().enumerate() {
        if n > 0 {
            if sm.get(i) != Some(&b' ') {
                return None;
            }
            i += 1;
        }
        if sm.get(i..i + key.len()) != Some(key) {
            return None;
        }
        let start = i + key.len();
        i = scan(sm, start, SPACE);
        if i == start {
            return None;
        }
        let value = Some(Span::new(start, i));
        match k {
            Key::Id => out.id = value,
            Key::Sub => out.sub = value,
            Key::Dlvrd => out.dlvrd = value,
            Key::SubmitDate => out.submit_date = value,
            Key::DoneDate => out.done_date = value,
            Key::Stat => out.stat = value,
            Key::Err => out.err = value,
            Key::Text => return None,
        }
    }
    if i < sm.len() {
        if sm.get(i..i + 6) != Some(b" text:") {
            return None;
        }
        out.text = Some(Span::new(i + 6, sm.len()));
    }
    Some(out)
}

/// Parse a receipt text into spans of `sm`. Errors (with
/// [`NOT_A_RECEIPT_STATUS`]) when there is no non-empty `id:` field, i.e.
/// when the bytes are not a receipt text.
fn parse_text(sm: &[u8]) -> Result<TextFields> {
    match parse_appendix_b(sm) {
        Some(fields) => Ok(fields),
        None => parse_text_general(sm),
    }
}

/// For the `receipt` fuzz target only: panics when the appendix B fast path
/// disagrees with the general parser. (Not behind `cfg(fuzzing)`: the
/// manifest does not declare that cfg, and this is too small to hide.)
#[doc(hidden)]
pub fn check_appendix_b_fast_path(sm: &[u8]) {
    if let Some(fast) = parse_appendix_b(sm) {
        let general = parse_text_general(sm).expect("appendix B text must parse");
        assert_eq!(fast, general, "fast path differs on {:?}", String::from_utf8_lossy(sm));
    }
}

/// The tokenizer for any layout (see [`parse_text`]).
fn parse_text_general(sm: &[u8]) -> Result<TextFields> {
    let mut out = TextFields::default();
    // Only the latest field can still change (its value grows with bare
    // words, or gives some back to a multi-word key), so it is held here and
    // filed when the next one starts: no list of fields is built.
    let mut pending: Option<Field> = None;

    // Tokens are runs of non-space bytes. A token is a field start when it is
    // `word:rest`; otherwise it extends the value of the field before it, so
    // "id: 123" and values with spaces ("operator:Vodafone UK") both work.
    // Multi-word keys ("submit date:", "done date :") borrow up to
    // MAX_KEY_WORDS - 1 bare words back from that value when the joined key
    // is a known key (or must, for a lone ':').
    let mut bare: [Option<Token>; MAX_KEY_WORDS - 1] = [None; MAX_KEY_WORDS - 1];
    let mut i = 0;
    loop {
        while sm.get(i).is_some_and(|&b| is_space(b)) {
            i += 1;
        }
        if i >= sm.len() {
            break;
        }
        let start = i;
        // Scan to the first colon or space, then (past a colon) to the
        // space.
        i = scan(sm, i, SPACE | COLON);
        let mut colon = None;
        if sm.get(i) == Some(&b':') {
            colon = Some(i);
            i = scan(sm, i + 1, SPACE);
        }
        let end = i;
        let word = colon.is_some_and(|c| is_key_word(sm.get(start..c).unwrap_or(&[])));
        let colon = match colon {
            // "key : value": a lone colon prefix takes the previous bare
            // word(s) as the key.
            Some(c) if c == start => {
                bare[0].filter(|p| is_key_word(sm.get(p.start..p.end).unwrap_or(&[]))).map(|_| c)
            }
            Some(c) if word => Some(c),
            _ => None,
        };

        let Some(c) = colon else {
            if let Some(f) = pending.as_mut() {
                if f.val_start == f.val_end {
                    f.val_start = start;
                }
                f.val_end = end;
            }
            // Bare words before the first field are leading noise.
            // Shift by hand: rotate_right is a generic call for 2 slots.
            for k in (1..bare.len()).rev() {
                bare[k] = bare[k - 1];
            }
            bare[0] = Some(Token { start, end });
            continue;
        };

        let lone_colon = c == start;
        let mut key_start = start;
        // bare[k] are the k+1-th words back, all contiguous bare tokens.
        for p in bare.iter().flatten() {
            if known_key(sm.get(p.start..c).unwrap_or(&[])).is_some() || (lone_colon && key_start == start) {
                key_start = p.start;
            }
        }
        bare = [None; MAX_KEY_WORDS - 1];
        if key_start < start {
            // The borrowed words were counted as the previous field's
            // value; give them back.
            if let Some(f) = pending.as_mut() {
                if f.key_end < key_start {
                    f.val_end = trim_end(sm, f.val_start, key_start).max(f.val_start);
                }
            }
        }
        if let Some(f) = pending.take() {
            out.file(f);
        }
        let key = known_key(sm.get(key_start..c).unwrap_or(&[]));
        if key == Some(Key::Text) {
            out.text = Some(Span::new((c + 1).min(sm.len()), sm.len()));
            break;
        }
        let vs = c + 1;
        pending = Some(Field { key, key_start, key_end: c, val_start: vs, val_end: end.max(vs) });
    }
    if let Some(f) = pending {
        out.file(f);
    }
    if out.id.is_none() {
        return Err(CodecError::new(
            NOT_A_RECEIPT_STATUS,
            "short_message",
            "not a delivery receipt: no id: field",
        ));
    }
    Ok(out)
}

fn trim_end(sm: &[u8], from: usize, mut to: usize) -> usize {
    while to > from && sm.get(to - 1).is_some_and(|&b| is_space(b)) {
        to -= 1;
    }
    to
}

/// "submit   date" -> "submit date": keys as sent, but one space between
/// words. Borrowed when already so.
fn normalise_space(s: Cow<'_, str>) -> Cow<'_, str> {
    let b = s.as_bytes();
    let tidy = !b.first().is_some_and(|&c| is_space(c))
        && !b.last().is_some_and(|&c| is_space(c))
        && b.iter().all(|&c| c == b' ' || !is_space(c))
        && !b.windows(2).any(|w| w == b"  ");
    if tidy {
        return s;
    }
    Cow::Owned(s.split(is_space_char).filter(|w| !w.is_empty()).collect::<Vec<_>>().join(" "))
}

/// `err:` as a number: all decimal digits -> decimal ("000" -> 0, "058" ->
/// 58, as appendix B's "E" is decimal); otherwise hex digits with an
/// optional 0x prefix -> hex ("00B" -> 11, "0x1F" -> 31); otherwise None.
pub fn parse_err(err: &str) -> Option<u32> {
    parse_err_bytes(err.as_bytes())
}

/// [`parse_err`] on raw bytes (non-ASCII is never a number).
fn parse_err_bytes(err: &[u8]) -> Option<u32> {
    let s = trim_bytes(err);
    if s.is_empty() {
        return None;
    }
    if s.iter().all(u8::is_ascii_digit) {
        return parse_digits(s);
    }
    let hex = s.strip_prefix(b"0x").or_else(|| s.strip_prefix(b"0X")).unwrap_or(s);
    if hex.is_empty() {
        return None;
    }
    hex.iter().try_fold(0u32, |acc, &b| {
        let d = char::from(b).to_digit(16)?;
        acc.checked_mul(16)?.checked_add(d)
    })
}

/// A non-empty run of ASCII digits as a u32; None for anything else or on
/// overflow (as `str::parse::<u32>` without its sign handling).
fn parse_digits(v: &[u8]) -> Option<u32> {
    if v.is_empty() {
        return None;
    }
    v.iter().try_fold(0u32, |acc, &b| {
        let d = b.wrapping_sub(b'0');
        if d > 9 {
            return None;
        }
        acc.checked_mul(10)?.checked_add(u32::from(d))
    })
}

fn parse_count(v: &[u8]) -> Option<u32> {
    parse_digits(v)
}

/// Merge a receipt text with the receipt TLVs into one [`Receipt`].
///
/// TLVs win over the text wherever both carry the same information
/// (message id, state, error code): they are typed and exact, while the
/// text's layout is only an example in the spec and vendors abbreviate,
/// truncate (appendix B's id is 10 characters) or reformat it. The text's
/// id is used when receipted_message_id is absent or empty.
///
/// A TLV-only receipt (empty or non-receipt short_message with a
/// receipted_message_id) is fine. A message_state outside 0..=9 is ignored
/// (the text's stat, else UNKNOWN, is used) rather than refusing the
/// receipt. Errors: no id anywhere ([`NOT_A_RECEIPT_STATUS`],
/// "short_message"), network_error_code not 3 octets (ESME_RINVPARLEN).
pub fn parse_receipt(short_message: &[u8], tlvs: &ReceiptTlvs<'_>) -> Result<Receipt> {
    let network = match tlvs.network_error_code {
        None => None,
        Some(&[t, hi, lo]) => Some((t, u32::from(u16::from_be_bytes([hi, lo])))),
        Some(other) => {
            return Err(CodecError::new(
                status::ESME_RINVPARLEN,
                "network_error_code",
                format!("network_error_code must be {NETWORK_ERROR_CODE_LEN} octets, got {}", other.len()),
            ))
        }
    };
    // C-Octet string: the id ends at the first NUL (terminator or padding).
    let tlv_id = tlvs.receipted_message_id.map(|raw| {
        let end = raw.iter().position(|&b| b == 0).unwrap_or(raw.len());
        trim_bytes(raw.get(..end).unwrap_or(&[]))
    });
    let tlv_id = tlv_id.filter(|id| !id.is_empty());
    if short_message.len().saturating_add(tlv_id.map_or(0, <[u8]>::len)) > MAX_RECEIPT_LEN {
        return Err(CodecError::new(
            status::ESME_RINVMSGLEN,
            "short_message",
            format!("a receipt text cannot be over {MAX_RECEIPT_LEN} octets"),
        ));
    }

    let fields = match parse_text(short_message) {
        Ok(t) => t,
        Err(e) if tlv_id.is_none() => return Err(e),
        // With the TLVs carrying the receipt, a short_message that is not a
        // receipt text (empty, or free text) is not an error.
        Err(_) => TextFields::default(),
    };

    let mut buf = Vec::with_capacity(short_message.len() + tlv_id.map_or(0, <[u8]>::len));
    buf.extend_from_slice(short_message);
    let id = match (tlv_id, fields.id) {
        (Some(id), _) => {
            buf.extend_from_slice(id);
            Span::new(short_message.len(), buf.len())
        }
        (None, Some(span)) => span,
        (None, None) => {
            return Err(CodecError::new(NOT_A_RECEIPT_STATUS, "short_message", "not a delivery receipt: no message id"))
        }
    };
    let stat_state = fields.stat.and_then(|s| MessageState::from_stat_bytes(s.of(short_message)));
    let state = tlvs
        .message_state
        .and_then(MessageState::from_u8)
        .or(stat_state)
        .unwrap_or(MessageState::Unknown);
    let error_code = match network {
        Some((_, code)) => Some(code),
        None => fields.err.and_then(|s| parse_err_bytes(s.of(short_message))),
    };
    Ok(Receipt {
        id,
        stat: fields.stat,
        submit_date: fields.submit_date,
        done_date: fields.done_date,
        err: fields.err,
        text: fields.text,
        state,
        sub: fields.sub.and_then(|s| parse_count(s.of(short_message))),
        dlvrd: fields.dlvrd.and_then(|s| parse_count(s.of(short_message))),
        error_code,
        network_type: network.map(|(t, _)| t),
        extra: fields.extra,
        buf,
    })
}

fn trim_bytes(mut b: &[u8]) -> &[u8] {
    while let [first, rest @ ..] = b {
        if !is_space(*first) {
            break;
        }
        b = rest;
    }
    while let [rest @ .., last] = b {
        if !is_space(*last) {
            break;
        }
        b = rest;
    }
    b
}

/// esm_class message-type bits (SMPP 3.4 section 5.2.12, bits 5-2).
pub const ESM_CLASS_TYPE_MASK: u8 = 0x3C;
/// Message type "SMSC Delivery Receipt" within those bits.
pub const ESM_CLASS_DELIVERY_RECEIPT: u8 = 0x04;

/// The receipt a deliver_sm or data_sm carries, read straight from its
/// decoded body: None when it is not a receipt (another command, or neither
/// the esm_class receipt type nor a receipted_message_id TLV), else what
/// [`parse_receipt`] makes of its text and receipt TLVs. The text is the
/// short_message, or message_payload when short_message is empty (data_sm
/// has only the latter). The first TLV of each tag counts, as on the wire.
pub fn receipt_of(p: &crate::pdu::Pdu) -> Option<Result<Receipt>> {
    use crate::pdu::Body;
    use crate::tlv;
    let (esm_class, short_message, tlvs): (u8, &[u8], &[tlv::Tlv]) = match &p.body {
        Body::Sm(b) if p.command_id == crate::pdu::DELIVER_SM => (b.esm_class, &b.short_message, &b.tlvs),
        Body::DataSm(b) => (b.esm_class, &[], &b.tlvs),
        _ => return None,
    };
    let find = |tag: u16| tlvs.iter().find(|t| t.tag == tag).map(|t| t.value.as_slice());
    let receipted_message_id = find(TAG_RECEIPTED_MESSAGE_ID);
    if esm_class & ESM_CLASS_TYPE_MASK != ESM_CLASS_DELIVERY_RECEIPT && receipted_message_id.is_none() {
        return None;
    }
    let message_state = match find(TAG_MESSAGE_STATE) {
        None => None,
        Some(&[s]) => Some(s),
        // Decoding already refuses this; a hand-built Pdu may not have been.
        Some(other) => {
            return Some(Err(CodecError::new(
                status::ESME_RINVPARLEN,
                "message_state",
                format!("message_state must be 1 octet, got {}", other.len()),
            )))
        }
    };
    let text = match short_message {
        [] => find(tlv::MESSAGE_PAYLOAD).unwrap_or(&[]),
        sm => sm,
    };
    let tlvs = ReceiptTlvs { receipted_message_id, message_state, network_error_code: find(TAG_NETWORK_ERROR_CODE) };
    Some(parse_receipt(text, &tlvs))
}

/// Longest id read as a decimal number for [`id_keys`]: message_id is a
/// C-Octet string of at most 65 octets with its NUL (SMPP 3.4 section
/// 5.2.23), so 64 characters; longer strings are not SMPP ids.
const MAX_DECIMAL_ID_DIGITS: usize = 64;

/// A string of decimal digits as lowercase hex without leading zeros, of any
/// length (schoolbook multiply-add on nibbles; ids are short).
fn decimal_to_hex(digits: &str) -> String {
    // Little-endian base-16 digits.
    let mut nibbles: Vec<u8> = Vec::with_capacity(digits.len());
    for d in digits.bytes() {
        let mut carry = u32::from(d.wrapping_sub(b'0'));
        for n in nibbles.iter_mut() {
            let v = u32::from(*n) * 10 + carry;
            *n = (v & 0xF) as u8;
            carry = v >> 4;
        }
        while carry > 0 {
            nibbles.push((carry & 0xF) as u8);
            carry >>= 4;
        }
    }
    if nibbles.is_empty() {
        return "0".to_owned();
    }
    nibbles.iter().rev().map(|&n| char::from(b"0123456789abcdef"[usize::from(n)])).collect()
}

/// The keys under which a vendor message id may be matched, most specific
/// first.
///
/// SMSCs disagree with themselves: some return the submit_sm_resp
/// message_id in hex and quote it in decimal in the receipt text (or the
/// reverse), in either case, with or without leading zeros or dashes
/// (Kannel's `msg-id-type` exists for this). The rule:
///
/// 1. the id as sent (trimmed) — always first, exact match;
/// 2. with dashes removed, if what is left is all hex digits: `#` + its
///    value as lowercase hex without leading zeros (the id read as hex);
/// 3. if it is all decimal digits (at most 64): `#` + its value as
///    lowercase hex (the id read as decimal).
///
/// So "123456" and "1E240" and "0001e240" share "#1e240", and a UUID
/// matches itself in either case. Two different ids can share a numeric key
/// (decimal "16" read as decimal and hex "10" read as hex are both `#10`), so
/// the engine should match on the exact key first and use the `#` keys only
/// as a fallback (e.g. when exactly one outstanding segment matches).
/// An empty id has no keys.
pub fn id_keys(id: &str) -> Vec<String> {
    let id = id.trim_matches(is_space_char);
    let mut keys = Vec::with_capacity(3);
    if id.is_empty() {
        return keys;
    }
    keys.push(id.to_owned());
    let digits: String = id.chars().filter(|&c| c != '-').collect();
    if digits.is_empty() {
        return keys;
    }
    if digits.bytes().all(|b| b.is_ascii_hexdigit()) {
        let lower = digits.to_ascii_lowercase();
        let stripped = lower.trim_start_matches('0');
        keys.push(format!("#{}", if stripped.is_empty() { "0" } else { stripped }));
    }
    // Leading zeros do not count towards the limit: they do not change the
    // value.
    let significant = digits.trim_start_matches('0');
    if significant.len() <= MAX_DECIMAL_ID_DIGITS && digits.bytes().all(|b| b.is_ascii_digit()) {
        let key = format!("#{}", decimal_to_hex(significant));
        if !keys.contains(&key) {
            keys.push(key);
        }
    }
    keys
}

/// Fields of a receipt text to build (the SMSC simulator's side).
#[derive(Debug, Clone, Copy)]
pub struct ReceiptFields<'a> {
    pub message_id: &'a str,
    pub stat: &'a str,
    pub err: &'a str,
    /// YYMMDDhhmm or YYMMDDhhmmss, supplied by the caller (no clock here).
    pub submit_date: &'a str,
    pub done_date: &'a str,
    pub sub: u32,
    pub dlvrd: u32,
    pub text: &'a [u8],
}

/// Build the appendix B receipt text:
/// `id:… sub:001 dlvrd:001 submit date:… done date:… stat:… err:… text:…`.
/// sub and dlvrd are zero-padded to 3 digits. Every field but text must be
/// non-empty and free of whitespace/NUL (which separate fields), so that
/// [`parse_receipt`] reads back exactly what was written. No length limit
/// is applied: a simulator whose receipt exceeds sm_length's 254 octets
/// (SMPP 3.4 section 5.2.21) must shorten text or use message_payload.
pub fn format_receipt(f: &ReceiptFields<'_>) -> Result<Vec<u8>> {
    let check = |field: &'static str, v: &str, status: u32| -> Result<()> {
        if v.is_empty() || v.bytes().any(is_space) {
            return Err(CodecError::new(status, field, format!("{field} must be non-empty without whitespace, got {v:?}")));
        }
        Ok(())
    };
    check("message_id", f.message_id, status::ESME_RINVMSGID)?;
    check("stat", f.stat, status::ESME_RSYSERR)?;
    check("err", f.err, status::ESME_RSYSERR)?;
    check("submit_date", f.submit_date, status::ESME_RSYSERR)?;
    check("done_date", f.done_date, status::ESME_RSYSERR)?;
    let mut out = Vec::with_capacity(96 + f.message_id.len() + f.text.len());
    out.extend_from_slice(
        format!(
            "id:{} sub:{:03} dlvrd:{:03} submit date:{} done date:{} stat:{} err:{} text:",
            f.message_id, f.sub, f.dlvrd, f.submit_date, f.done_date, f.stat, f.err
        )
        .as_bytes(),
    );
    out.extend_from_slice(f.text);
    Ok(out)
}

#[cfg(test)]
mod tests {

    /// The text parser as it was before the allocation-free rewrite, kept
    /// verbatim as an oracle: the rewrite must give identical fields.
    #[allow(dead_code)]
    mod reference {
        use super::super::{CodecError, Key, Result, Span, TextFields, NOT_A_RECEIPT_STATUS};

        pub(super) fn from_stat(stat: &str) -> Option<super::super::MessageState> {
            let s = stat.trim_matches(super::super::is_space_char);
            if s.len() > 16 {
                return None;
            }
            if let Ok(n) = s.parse::<u8>() {
                return super::super::MessageState::from_u8(n);
            }
            let mut buf = [0u8; 16];
            let mut len = 0;
            for b in s.bytes() {
                // EN_ROUTE, EN-ROUTE and "EN ROUTE" all mean ENROUTE.
                if b == b'_' || b == b'-' || b == b' ' {
                    continue;
                }
                buf[len] = b.to_ascii_uppercase();
                len += 1;
            }
            let state = match &buf[..len] {
                b"ENROUTE" | b"ENROUTED" | b"SENT" | b"BUFFERED" => super::super::MessageState::Enroute,
                b"DELIVRD" | b"DELIVERED" | b"DELIVRED" | b"DELIVERD" => super::super::MessageState::Delivered,
                b"EXPIRED" | b"EXPIRD" => super::super::MessageState::Expired,
                b"DELETED" | b"DELETD" => super::super::MessageState::Deleted,
                b"UNDELIV" | b"UNDELIVERABLE" | b"UNDELIVERED" | b"UNDELIVRD" | b"FAILED" => {
                    super::super::MessageState::Undeliverable
                }
                b"ACCEPTD" | b"ACCEPTED" => super::super::MessageState::Accepted,
                b"UNKNOWN" | b"UNKNWN" => super::super::MessageState::Unknown,
                b"REJECTD" | b"REJECTED" => super::super::MessageState::Rejected,
                b"SCHEDLD" | b"SCHEDULED" => super::super::MessageState::Scheduled,
                b"SKIPPED" => super::super::MessageState::Skipped,
                _ => return None,
            };
            Some(state)
        }
        pub(super) fn parse_err(err: &str) -> Option<u32> {
            let s = err.trim_matches(super::super::is_space_char);
            if s.is_empty() {
                return None;
            }
            if s.bytes().all(|b| b.is_ascii_digit()) {
                return s.parse().ok();
            }
            let hex = s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")).unwrap_or(s);
            if !hex.is_empty() && hex.bytes().all(|b| b.is_ascii_hexdigit()) {
                return u32::from_str_radix(hex, 16).ok();
            }
            None
        }

        fn trim_end(sm: &[u8], from: usize, mut to: usize) -> usize {
            while to > from && sm.get(to - 1).is_some_and(|&b| is_space(b)) {
                to -= 1;
            }
            to
        }

        /// Longest key spelling that can be a known key once normalised
        /// ("submit_date" and friends); longer keys are extras without a lookup.
        const MAX_KNOWN_KEY_LEN: usize = 16;

        /// Recognise a key, ignoring case and `_`, `-`, space.
        pub(super) fn known_key(raw: &[u8]) -> Option<Key> {
            // Cheap rejection first: this runs for every field and candidate key
            // word, and most extras start with another letter.
            if raw.len() > MAX_KNOWN_KEY_LEN
                || !matches!(raw.first().map(u8::to_ascii_lowercase), Some(b'i' | b's' | b'd' | b'e' | b't'))
            {
                return None;
            }
            let mut buf = [0u8; MAX_KNOWN_KEY_LEN];
            let mut len = 0;
            for &b in raw {
                if b == b'_' || b == b'-' || is_space(b) {
                    continue;
                }
                buf[len] = b.to_ascii_lowercase();
                len += 1;
            }
            Some(match &buf[..len] {
                b"id" => Key::Id,
                b"sub" => Key::Sub,
                b"dlvrd" => Key::Dlvrd,
                b"submitdate" => Key::SubmitDate,
                b"donedate" => Key::DoneDate,
                b"stat" | b"status" => Key::Stat,
                b"err" | b"error" => Key::Err,
                b"text" => Key::Text,
                _ => return None,
            })
        }

        /// NUL counts as whitespace: some SMSCs pad or terminate the text with it.
        /// Only ASCII: a non-ASCII character (even a Unicode space) is content.
        pub(super) fn is_space(b: u8) -> bool {
            b.is_ascii_whitespace() || b == 0
        }

        fn is_space_char(c: char) -> bool {
            c.is_ascii_whitespace() || c == '\0'
        }

        /// A key is a word: it starts with a letter and has only letters, digits,
        /// `_`, `-` or `.`. This keeps times ("12:30") and most free text from
        /// being mistaken for fields.
        pub(super) fn is_key_word(w: &[u8]) -> bool {
            match w.first() {
                Some(b) if b.is_ascii_alphabetic() => {}
                _ => return false,
            }
            w.iter().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
        }

        /// A bare (non-field) token.
        #[derive(Debug, Clone, Copy)]
        struct Token {
            start: usize,
            end: usize,
        }

        /// Most words in a key ("submit date" is 2); a bare word that is not part
        /// of one extends the previous value instead.
        const MAX_KEY_WORDS: usize = 3;

        struct Field {
            key: Option<Key>,
            key_start: usize,
            key_end: usize,
            /// Value span; empty (start == end) until a value is seen.
            val_start: usize,
            val_end: usize,
        }

        /// Parse a receipt text into spans of `sm`. Errors (with
        /// [`NOT_A_RECEIPT_STATUS`]) when there is no non-empty `id:` field, i.e.
        /// when the bytes are not a receipt text.
        pub(super) fn parse_text(sm: &[u8]) -> Result<TextFields> {
            // Appendix B has 8 fields; one allocation covers the usual receipt.
            let mut fields: Vec<Field> = Vec::with_capacity(8);
            let mut text: Option<Span> = None;

            // Tokens are runs of non-space bytes. A token is a field start when it is
            // `word:rest`; otherwise it extends the value of the field before it, so
            // "id: 123" and values with spaces ("operator:Vodafone UK") both work.
            // Multi-word keys ("submit date:", "done date :") borrow up to
            // MAX_KEY_WORDS - 1 bare words back from that value when the joined key
            // is a known key (or must, for a lone ':').
            let mut bare: [Option<Token>; MAX_KEY_WORDS - 1] = [None; MAX_KEY_WORDS - 1];
            let mut i = 0;
            while i < sm.len() {
                while i < sm.len() && is_space(sm[i]) {
                    i += 1;
                }
                if i >= sm.len() {
                    break;
                }
                let start = i;
                while i < sm.len() && !is_space(sm[i]) {
                    i += 1;
                }
                let end = i;
                let colon = sm[start..end].iter().position(|&b| b == b':').map(|p| start + p);
                let colon = match colon {
                    // "key : value": a lone colon prefix takes the previous bare
                    // word(s) as the key.
                    Some(c) if c == start => bare[0].filter(|p| is_key_word(&sm[p.start..p.end])).map(|_| c),
                    Some(c) if is_key_word(&sm[start..c]) => Some(c),
                    _ => None,
                };

                let Some(c) = colon else {
                    if let Some(f) = fields.last_mut() {
                        if f.val_start == f.val_end {
                            f.val_start = start;
                        }
                        f.val_end = end;
                    }
                    // Bare words before the first field are leading noise.
                    bare.rotate_right(1);
                    bare[0] = Some(Token { start, end });
                    continue;
                };

                let lone_colon = c == start;
                let mut key_start = start;
                // bare[k] are the k+1-th words back, all contiguous bare tokens.
                for p in bare.iter().flatten() {
                    if known_key(&sm[p.start..c]).is_some() || (lone_colon && key_start == start) {
                        key_start = p.start;
                    }
                }
                bare = [None; MAX_KEY_WORDS - 1];
                if key_start < start {
                    // The borrowed words were counted as the previous field's
                    // value; give them back.
                    if let Some(f) = fields.last_mut() {
                        if f.key_end < key_start {
                            f.val_end = trim_end(sm, f.val_start, key_start).max(f.val_start);
                            if f.val_end <= f.val_start {
                                f.val_end = f.val_start;
                            }
                        }
                    }
                }
                let key = known_key(&sm[key_start..c]);
                if key == Some(Key::Text) {
                    text = Some(Span::new((c + 1).min(sm.len()), sm.len()));
                    break;
                }
                let vs = c + 1;
                fields.push(Field { key, key_start, key_end: c, val_start: vs, val_end: end.max(vs) });
            }

            let mut out = TextFields { text, ..TextFields::default() };
            for f in &fields {
                let key = Span::new(f.key_start, f.key_end);
                if f.val_end <= f.val_start {
                    // "err:" with nothing after it: absent, but an unknown key
                    // still shows up among the extras.
                    if f.key.is_none() {
                        out.extra.push((key, Span::new(f.val_start, f.val_start)));
                    }
                    continue;
                }
                let value = Span::new(f.val_start, f.val_end);
                let slot = match f.key {
                    Some(Key::Id) => &mut out.id,
                    Some(Key::Sub) => &mut out.sub,
                    Some(Key::Dlvrd) => &mut out.dlvrd,
                    Some(Key::SubmitDate) => &mut out.submit_date,
                    Some(Key::DoneDate) => &mut out.done_date,
                    Some(Key::Stat) => &mut out.stat,
                    Some(Key::Err) => &mut out.err,
                    // Text never reaches here: it ends the loop above.
                    Some(Key::Text) | None => {
                        out.extra.push((key, value));
                        continue;
                    }
                };
                if slot.is_none() {
                    *slot = Some(value);
                } else {
                    // A repeated known key: the first one wins, the repeat is not
                    // lost.
                    out.extra.push((key, value));
                }
            }
            if out.id.is_none() {
                return Err(CodecError::new(
                    NOT_A_RECEIPT_STATUS,
                    "short_message",
                    "not a delivery receipt: no id: field",
                ));
            }
            Ok(out)
        }
    }

    mod from_pdu {
        use super::super::*;
        use crate::pdu::{self, Body, Pdu};
        use crate::tlv::{self, Tlv};

        const TEXT: &[u8] = b"id:42 sub:001 dlvrd:001 submit date:2401311200 done date:2401311201 stat:UNDELIV err:00B text:x";

        fn deliver(esm_class: u8, sm: &[u8], tlvs: Vec<Tlv>) -> Pdu {
            let mut p = Pdu::new(pdu::DELIVER_SM, 1).unwrap();
            if let Body::Sm(b) = &mut p.body {
                b.esm_class = esm_class;
                b.short_message = sm.into();
                b.tlvs = tlvs;
            }
            // Through the wire, as the session sees it.
            pdu::decode(&pdu::encode(&p).unwrap()).unwrap()
        }

        #[test]
        fn text_receipt_matches_parse_receipt() {
            let r = receipt_of(&deliver(0x04, TEXT, vec![])).unwrap().unwrap();
            assert_eq!(r, parse_receipt(TEXT, &ReceiptTlvs::default()).unwrap());
            assert_eq!(r.message_id(), "42");
            assert_eq!(r.state, MessageState::Undeliverable);
            assert_eq!(r.error_code, Some(11));
        }

        #[test]
        fn tlvs_are_used() {
            let p = deliver(
                0x04,
                TEXT,
                vec![
                    Tlv::from_cstr(tlv::RECEIPTED_MESSAGE_ID, b"ABC"),
                    Tlv::from_u8(tlv::MESSAGE_STATE, 2),
                    Tlv::new(tlv::NETWORK_ERROR_CODE, [3, 0, 7]),
                ],
            );
            let r = receipt_of(&p).unwrap().unwrap();
            assert_eq!(r.message_id(), "ABC");
            assert_eq!(r.state, MessageState::Delivered);
            assert_eq!((r.network_type, r.error_code), (Some(3), Some(7)));
        }

        #[test]
        fn non_receipts_are_none_and_garbage_is_an_error() {
            assert!(receipt_of(&deliver(0x00, TEXT, vec![])).is_none());
            assert!(receipt_of(&deliver(0x08, TEXT, vec![])).is_none());
            assert!(receipt_of(&Pdu::new(pdu::SUBMIT_SM, 1).unwrap()).is_none());
            assert!(receipt_of(&Pdu::new(pdu::ENQUIRE_LINK, 1).unwrap()).is_none());
            let e = receipt_of(&deliver(0x04, b"hello", vec![])).unwrap().unwrap_err();
            assert_eq!(e.status, NOT_A_RECEIPT_STATUS);
            // A receipted_message_id alone makes it a receipt.
            let p = deliver(0, b"hello", vec![Tlv::from_cstr(tlv::RECEIPTED_MESSAGE_ID, b"9")]);
            assert_eq!(receipt_of(&p).unwrap().unwrap().message_id(), "9");
        }

        #[test]
        fn data_sm_reads_message_payload() {
            let mut p = Pdu::new(pdu::DATA_SM, 1).unwrap();
            if let Body::DataSm(b) = &mut p.body {
                b.esm_class = 0x04;
                b.tlvs = vec![Tlv::new(tlv::MESSAGE_PAYLOAD, TEXT.to_vec())];
            }
            let r = receipt_of(&p).unwrap().unwrap();
            assert_eq!(r, parse_receipt(TEXT, &ReceiptTlvs::default()).unwrap());
        }

        #[test]
        fn wrong_message_state_length_is_an_error_not_a_panic() {
            let mut p = Pdu::new(pdu::DELIVER_SM, 1).unwrap();
            if let Body::Sm(b) = &mut p.body {
                b.esm_class = 0x04;
                b.short_message = TEXT.into();
                b.tlvs = vec![Tlv::new(tlv::MESSAGE_STATE, [1, 2])];
            }
            let e = receipt_of(&p).unwrap().unwrap_err();
            assert_eq!((e.status, e.field), (status::ESME_RINVPARLEN, "message_state"));
        }
    }

    use super::*;

    fn text(s: &str) -> Receipt {
        parse_receipt(s.as_bytes(), &ReceiptTlvs::default()).unwrap()
    }

    #[test]
    fn appendix_b_standard() {
        let r = text("id:0123456789 sub:001 dlvrd:001 submit date:2401311200 done date:2401311201 stat:DELIVRD err:000 text:Hello world");
        assert_eq!(r.message_id(), "0123456789");
        assert_eq!(r.state, MessageState::Delivered);
        assert_eq!(r.stat().as_deref(), Some("DELIVRD"));
        assert_eq!((r.sub, r.dlvrd), (Some(1), Some(1)));
        assert_eq!(r.submit_date().as_deref(), Some("2401311200"));
        assert_eq!(r.done_date().as_deref(), Some("2401311201"));
        assert_eq!(r.err().as_deref(), Some("000"));
        assert_eq!(r.error_code, Some(0));
        assert_eq!(r.text(), Some(&b"Hello world"[..]));
        assert_eq!(r.extra().len(), 0);
        assert!(r.is_final() && r.is_success());
    }

    #[test]
    fn uppercase_keys_underscores_and_seconds() {
        let r = text("ID:1E240 SUB:001 DLVRD:000 Submit_Date:240131120059 DONE-DATE:240131120100 STAT:UNDELIV ERR:00B TEXT:");
        assert_eq!(r.message_id(), "1E240");
        assert_eq!(r.state, MessageState::Undeliverable);
        assert_eq!(r.submit_date().as_deref(), Some("240131120059"));
        assert_eq!(r.done_date().as_deref(), Some("240131120100"));
        assert_eq!(r.error_code, Some(11));
        assert_eq!(r.text(), Some(&b""[..]));
        assert!(r.is_final() && !r.is_success());
    }

    #[test]
    fn text_keeps_colons_and_binary() {
        let r = text("id:7 stat:DELIVRD text:Time: 12:30 id:999 stat:REJECTD\0\x1b");
        assert_eq!(r.message_id(), "7");
        assert_eq!(r.state, MessageState::Delivered);
        assert_eq!(r.text(), Some(&b"Time: 12:30 id:999 stat:REJECTD\0\x1b"[..]));
    }

    #[test]
    fn whitespace_variants() {
        let r = text("  id: abc-123   sub:001\tdlvrd:1  submit   date:2401311200 done date : 2401311201 stat : EXPIRED err:  ");
        assert_eq!(r.message_id(), "abc-123");
        assert_eq!(r.sub, Some(1));
        assert_eq!(r.submit_date().as_deref(), Some("2401311200"));
        assert_eq!(r.done_date().as_deref(), Some("2401311201"));
        assert_eq!(r.state, MessageState::Expired);
        assert_eq!(r.err, None);
        assert_eq!(r.extra().len(), 0);
    }

    #[test]
    fn extra_fields_kept_in_order() {
        let r = text("id:42 sub:001 dlvrd:001 submit date:2401311200 done date:2401311201 stat:DELIVRD err:000 mcc:234 mnc:15 operator:Vodafone UK text:x");
        assert_eq!(
            r.extra().map(|(k, v)| (k.into_owned(), v.into_owned())).collect::<Vec<(String, String)>>(),
            vec![
                ("mcc".into(), "234".into()),
                ("mnc".into(), "15".into()),
                ("operator".into(), "Vodafone UK".into())
            ]
        );
    }

    #[test]
    fn missing_fields() {
        let r = text("id:5 stat:ACCEPTD");
        assert_eq!(r.state, MessageState::Accepted);
        assert_eq!((r.sub, r.dlvrd, r.err(), r.text()), (None, None, None, None));
        let r = text("id:5");
        assert_eq!(r.state, MessageState::Unknown);
        assert!(!r.is_final());
    }

    #[test]
    fn full_word_states() {
        for (s, st) in [
            ("DELIVERED", MessageState::Delivered),
            ("undeliverable", MessageState::Undeliverable),
            ("Rejected", MessageState::Rejected),
            ("ACCEPTED", MessageState::Accepted),
            ("EN_ROUTE", MessageState::Enroute),
            ("FAILED", MessageState::Undeliverable),
            ("3", MessageState::Expired),
        ] {
            assert_eq!(MessageState::from_stat(s), Some(st), "{s}");
        }
        assert_eq!(MessageState::from_stat("WHATEVER"), None);
        assert_eq!(MessageState::from_stat("DELIVEREDDELIVEREDDELIVERED"), None);
        let r = text("id:1 stat:WEIRD");
        assert_eq!(r.state, MessageState::Unknown);
        assert_eq!(r.stat().as_deref(), Some("WEIRD"));
    }

    #[test]
    fn tlvs_win_over_text() {
        let tlvs = ReceiptTlvs {
            receipted_message_id: Some(b"ABCDEF\0"),
            message_state: Some(5),
            network_error_code: Some(&[3, 0x00, 0x22]),
        };
        let r = parse_receipt(b"id:123 stat:DELIVRD err:000", &tlvs).unwrap();
        assert_eq!(r.message_id(), "ABCDEF");
        assert_eq!(r.state, MessageState::Undeliverable);
        assert_eq!(r.stat().as_deref(), Some("DELIVRD"));
        assert_eq!(r.error_code, Some(0x22));
        assert_eq!(r.network_type, Some(3));
        assert_eq!(r.err().as_deref(), Some("000"));
    }

    #[test]
    fn tlv_only_receipt() {
        let tlvs = ReceiptTlvs { receipted_message_id: Some(b"xyz\0"), message_state: Some(2), ..Default::default() };
        let r = parse_receipt(b"", &tlvs).unwrap();
        assert_eq!(r.message_id(), "xyz");
        assert!(r.is_success());
        let r = parse_receipt(b"your message was delivered", &tlvs).unwrap();
        assert_eq!(r.message_id(), "xyz");
        assert_eq!(r.text(), None);
    }

    #[test]
    fn empty_tlv_id_falls_back_to_text() {
        let tlvs = ReceiptTlvs { receipted_message_id: Some(b"\0"), message_state: Some(99), ..Default::default() };
        let r = parse_receipt(b"id:77 stat:REJECTD", &tlvs).unwrap();
        assert_eq!(r.message_id(), "77");
        assert_eq!(r.state, MessageState::Rejected, "out-of-range message_state is ignored");
    }

    #[test]
    fn garbage_is_an_error() {
        for sm in [&b""[..], b"hello world", b"stat:DELIVRD err:0", b"id: ", b"\xff\xfe:::", b":id:5"] {
            let e = parse_receipt(sm, &ReceiptTlvs::default()).unwrap_err();
            assert_eq!(e.status, NOT_A_RECEIPT_STATUS);
            assert_eq!(e.field, "short_message");
        }
    }

    #[test]
    fn bad_network_error_code_length() {
        let tlvs = ReceiptTlvs { network_error_code: Some(&[3, 0]), ..Default::default() };
        let e = parse_receipt(b"id:1", &tlvs).unwrap_err();
        assert_eq!(e.status, status::ESME_RINVPARLEN);
        assert_eq!(e.field, "network_error_code");
    }

    #[test]
    fn err_parsing() {
        assert_eq!(parse_err("000"), Some(0));
        assert_eq!(parse_err("058"), Some(58));
        assert_eq!(parse_err("00B"), Some(11));
        assert_eq!(parse_err("0x1f"), Some(31));
        assert_eq!(parse_err("ABZ"), None);
        assert_eq!(parse_err("99999999999"), None);
    }

    #[test]
    fn id_keys_rule() {
        assert_eq!(id_keys("123456"), vec!["123456", "#123456", "#1e240"]);
        assert_eq!(id_keys("1E240"), vec!["1E240", "#1e240"]);
        assert_eq!(id_keys("0001e240"), vec!["0001e240", "#1e240"]);
        assert_eq!(id_keys("000"), vec!["000", "#0"]);
        assert_eq!(id_keys("SMabcXYZ"), vec!["SMabcXYZ"]);
        assert_eq!(id_keys("  "), Vec::<String>::new());
        assert_eq!(id_keys("\u{85}"), vec!["\u{85}"]);
        assert_eq!(id_keys(&format!("{}10", "0".repeat(80)))[2], "#a");
        let u = id_keys("B2C2D8B0-0A1B-4C5D-8E9F-0123456789AB");
        assert_eq!(u[1], "#b2c2d8b00a1b4c5d8e9f0123456789ab");
        assert_eq!(id_keys("b2c2d8b0-0a1b-4c5d-8e9f-0123456789ab")[1], u[1]);
        // Beyond u128: still converted exactly.
        assert_eq!(id_keys(&"9".repeat(40))[2], format!("#{}", decimal_to_hex(&"9".repeat(40))));
        assert_eq!(decimal_to_hex("340282366920938463463374607431768211456"), format!("1{}", "0".repeat(32)));
        assert_eq!(decimal_to_hex("0000"), "0");
        // Longer than any SMPP id: exact and hex reading only.
        assert_eq!(id_keys(&"9".repeat(65)).len(), 2);
    }

    #[test]
    fn id_keys_dec_hex_intersect() {
        let mut n: u128 = 0;
        for i in 0..2000u128 {
            n = n.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407 + i);
            for v in [i, n, n >> 64, n >> 100] {
                let d = id_keys(&v.to_string());
                let h = id_keys(&format!("{v:X}"));
                let hz = id_keys(&format!("00{v:x}"));
                assert!(d.iter().any(|k| h.contains(k) && hz.contains(k)), "{v}");
            }
        }
    }

    #[test]
    fn format_round_trips() {
        let f = ReceiptFields {
            message_id: "1E240",
            stat: "DELIVRD",
            err: "000",
            submit_date: "2401311200",
            done_date: "240131120159",
            sub: 1,
            dlvrd: 1,
            text: b"hi: there",
        };
        let b = format_receipt(&f).unwrap();
        assert_eq!(
            b,
            b"id:1E240 sub:001 dlvrd:001 submit date:2401311200 done date:240131120159 stat:DELIVRD err:000 text:hi: there"
        );
        let r = parse_receipt(&b, &ReceiptTlvs::default()).unwrap();
        assert_eq!(r.message_id(), "1E240");
        assert_eq!(r.done_date().as_deref(), Some("240131120159"));
        assert_eq!(r.text(), Some(&b"hi: there"[..]));
        let bad = ReceiptFields { message_id: "a b", ..f };
        assert_eq!(format_receipt(&bad).unwrap_err().field, "message_id");
    }

    /// Hand-run timing loop (`cargo test --release receipt_speed -- --ignored
    /// --nocapture`): no bench harness is wanted as a dependency.
    #[test]
    #[ignore]
    fn receipt_speed() {
        let sm: &[u8] = b"id:1A2B3C4D5E sub:001 dlvrd:001 submit date:2611251200 done date:2611251201 stat:DELIVRD err:000 text:Your verification";
        let tlvs = ReceiptTlvs { receipted_message_id: Some(b"1A2B3C4D5E\0"), message_state: Some(2), network_error_code: None };
        let n = 2_000_000u32;
        for (name, t) in [("text only", ReceiptTlvs::default()), ("text+tlvs", tlvs)] {
            let start = std::time::Instant::now();
            for _ in 0..n {
                std::hint::black_box(parse_receipt(std::hint::black_box(sm), &t).unwrap());
            }
            let ns = start.elapsed().as_nanos() as f64 / f64::from(n);
            println!("parse_receipt {name}: {ns:.1} ns");
        }
    }

    /// The rewritten text parser against the old one, on noise made of
    /// receipt-ish words, separators and odd bytes.
    #[test]
    fn parse_text_matches_reference() {
        let words: [&[u8]; 24] = [
            b"id", b"ID", b"sub", b"dlvrd", b"submit", b"date", b"Done", b"stat", b"STATUS", b"err", b"error",
            b"text", b"TeXt", b"x.y", b"12", b"DELIVRD", b"sub_mit", b"-date", b"\xff", b"a", b"op", b"e", b"t", b"s",
        ];
        let seps: [&[u8]; 9] = [b":", b" ", b"  ", b"\0", b"\t", b" : ", b"::", b"\x0b", b""];
        let mut x: u64 = 0x2545F4914F6CDD1D;
        let mut next = |n: usize| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x % n as u64) as usize
        };
        let check = |buf: &[u8]| {
            let new = parse_text(buf).map_err(|e| (e.status, e.field));
            let old = reference::parse_text(buf).map_err(|e| (e.status, e.field));
            assert_eq!(new, old, "{:?}", String::from_utf8_lossy(buf));
        };
        for _ in 0..20_000 {
            let mut buf = Vec::new();
            for _ in 0..next(14) {
                buf.extend_from_slice(words[next(words.len())]);
                buf.extend_from_slice(seps[next(seps.len())]);
            }
            check(&buf);
        }
        check(b"id:1A2B3C4D5E sub:001 dlvrd:001 submit date:2611251200 done date:2611251201 stat:DELIVRD err:000 text:Your verification");
        check(b"ID : 7 Submit  Date : 1 done_date:2 op:Vodafone UK stat : UNDELIV err: text :x");
    }

    /// The appendix B fast path against the old parser, on the standard
    /// layout with odd values and one mutation (case, spacing, separators,
    /// truncation) so that both the fast path and its fall-backs are hit.
    #[test]
    fn appendix_b_fast_path_matches_reference() {
        let values: [&[u8]; 10] = [b"1", b"1A2B", b"a:b", b"", b"x\xffy", b"text:", b"DELIVRD", b"000", b"id:9", b"-"];
        let mut x: u64 = 0xD1B54A32D192ED03;
        let mut next = |n: usize| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x % n as u64) as usize
        };
        let mut fast = 0;
        for round in 0..20_000 {
            let mut buf = Vec::new();
            for (n, (key, _)) in APPENDIX_B_KEYS.iter().enumerate() {
                if n > 0 {
                    buf.push(b' ');
                }
                buf.extend_from_slice(key);
                buf.extend_from_slice(values[next(values.len())]);
            }
            match next(3) {
                0 => {}
                1 => buf.extend_from_slice(b" text:Hi there"),
                _ => buf.extend_from_slice(b" text:"),
            }
            if round % 2 == 1 && !buf.is_empty() {
                let at = next(buf.len());
                match next(5) {
                    0 => buf[at] = b'\t',
                    1 => buf[at] = buf[at].to_ascii_uppercase(),
                    2 => buf.insert(at, b' '),
                    3 => buf.truncate(at),
                    _ => buf[at] = b'\0',
                }
            }
            fast += usize::from(parse_appendix_b(&buf).is_some());
            let new = parse_text(&buf).map_err(|e| (e.status, e.field));
            let old = reference::parse_text(&buf).map_err(|e| (e.status, e.field));
            assert_eq!(new, old, "{:?}", String::from_utf8_lossy(&buf));
        }
        assert!(fast > 1000, "the fast path was hardly taken: {fast}");
    }

    /// Byte-level stat and err parsing against the old str versions.
    #[test]
    fn stat_and_err_match_reference() {
        let parts: [&str; 20] = [
            "DELIV", "RD", "_", "-", " ", "\t", "\0", "+", "1", "0", "x", "0x", "F", "ed", "ERED", "Ab", "é", "9", "255", "00",
        ];
        let mut x: u64 = 0x9E3779B97F4A7C15;
        for _ in 0..50_000 {
            let mut v = String::new();
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            for k in 0..(x % 7) {
                v.push_str(parts[((x >> (5 * k + 3)) % parts.len() as u64) as usize]);
            }
            assert_eq!(MessageState::from_stat(&v), reference::from_stat(&v), "{v:?}");
            assert_eq!(parse_err(&v), reference::parse_err(&v), "{v:?}");
        }
        for (s, _) in MessageState::ALL {
            assert_eq!(MessageState::from_stat(s.stat()), Some(s));
        }
        for v in ["+2", "+", "300", "4294967296", "0x", "0xFFFFFFFF", "0x100000000", "DELIVRD\0", " undeliverable "] {
            assert_eq!(MessageState::from_stat(v), reference::from_stat(v), "{v:?}");
            assert_eq!(parse_err(v), reference::parse_err(v), "{v:?}");
        }
    }

    #[test]
    fn never_panics_on_noise() {
        let mut x: u64 = 0x9E3779B97F4A7C15;
        let alphabet = b"id:sub dlvrd ate stat err text\0\t :-_aZ09\xff";
        for len in 0..300 {
            let mut buf = Vec::with_capacity(len);
            for _ in 0..len {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                buf.push(alphabet[(x % alphabet.len() as u64) as usize]);
            }
            let _ = parse_receipt(&buf, &ReceiptTlvs::default());
            let _ = parse_receipt(&buf, &ReceiptTlvs { receipted_message_id: Some(&buf), ..Default::default() });
        }
    }
}
