//! SMPP 3.4 PDUs (spec sections 3 and 4): header, one typed body per command
//! layout, decode and encode with the field limits of the spec tables.
//!
//! Every limit is checked in both directions: what `decode` accepts always
//! re-encodes, and `encode_into` refuses what a strict peer would reject.
//! Errors carry the command_status to answer with and the field at fault.
//!
//! Vendor tolerance, on decode only, and nowhere else:
//! - a response with a non-zero command_status may have an empty body
//!   (spec 4.4.2 says submit_sm_resp then has none; SMSCs do it for the
//!   others too); deliver_sm_resp may have an empty body whatever its status,
//!   because its message_id is unused (spec 4.6.2) and many ESMEs omit it;
//! - the C-Octet string that ends the mandatory part of a response
//!   (message_id of submit_sm_resp / deliver_sm_resp / data_sm_resp, system_id
//!   of bind_*_resp) may lack its NUL when it is the last thing in the PDU;
//! - submit_sm_resp and deliver_sm_resp may carry TLVs (SMPP 5.0 peers send
//!   them on 3.4 binds).

use crate::bytes::SmallBytes;
use crate::error::{CodecError, Result};
use crate::status::*;
use crate::tlv::{self, Tlv};

/// Octets in the PDU header: command_length, command_id, command_status,
/// sequence_number (spec 3.2).
pub const HEADER_LEN: usize = 16;

/// command_id bit set on every response (spec 5.1.2.1).
pub const RESPONSE_BIT: u32 = 0x8000_0000;

macro_rules! commands {
    ($($const:ident = $id:expr, $name:literal;)*) => {
        $(pub const $const: u32 = $id;)*
        /// Every command of SMPP 3.4 (spec 5.1.2.1): (command_id, name).
        pub const COMMANDS: &[(u32, &str)] = &[$(($id, $name)),*];
    };
}

commands! {
    GENERIC_NACK = 0x8000_0000, "generic_nack";
    BIND_RECEIVER = 0x0000_0001, "bind_receiver";
    BIND_RECEIVER_RESP = 0x8000_0001, "bind_receiver_resp";
    BIND_TRANSMITTER = 0x0000_0002, "bind_transmitter";
    BIND_TRANSMITTER_RESP = 0x8000_0002, "bind_transmitter_resp";
    QUERY_SM = 0x0000_0003, "query_sm";
    QUERY_SM_RESP = 0x8000_0003, "query_sm_resp";
    SUBMIT_SM = 0x0000_0004, "submit_sm";
    SUBMIT_SM_RESP = 0x8000_0004, "submit_sm_resp";
    DELIVER_SM = 0x0000_0005, "deliver_sm";
    DELIVER_SM_RESP = 0x8000_0005, "deliver_sm_resp";
    UNBIND = 0x0000_0006, "unbind";
    UNBIND_RESP = 0x8000_0006, "unbind_resp";
    REPLACE_SM = 0x0000_0007, "replace_sm";
    REPLACE_SM_RESP = 0x8000_0007, "replace_sm_resp";
    CANCEL_SM = 0x0000_0008, "cancel_sm";
    CANCEL_SM_RESP = 0x8000_0008, "cancel_sm_resp";
    BIND_TRANSCEIVER = 0x0000_0009, "bind_transceiver";
    BIND_TRANSCEIVER_RESP = 0x8000_0009, "bind_transceiver_resp";
    OUTBIND = 0x0000_000B, "outbind";
    ENQUIRE_LINK = 0x0000_0015, "enquire_link";
    ENQUIRE_LINK_RESP = 0x8000_0015, "enquire_link_resp";
    SUBMIT_MULTI = 0x0000_0021, "submit_multi";
    SUBMIT_MULTI_RESP = 0x8000_0021, "submit_multi_resp";
    ALERT_NOTIFICATION = 0x0000_0102, "alert_notification";
    DATA_SM = 0x0000_0103, "data_sm";
    DATA_SM_RESP = 0x8000_0103, "data_sm_resp";
}

pub fn command_name(id: u32) -> Option<&'static str> {
    COMMANDS.iter().find(|(v, _)| *v == id).map(|(_, n)| *n)
}

pub fn command_id(name: &str) -> Option<u32> {
    COMMANDS.iter().find(|(_, n)| *n == name).map(|(v, _)| *v)
}

pub fn is_response(command_id: u32) -> bool {
    command_id & RESPONSE_BIT != 0
}

// Field limits. C-Octet string maxima include the terminating NUL, as the
// "Var. max" columns of the spec tables do (system_id 16 = 15 chars + NUL).

/// system_id, spec 4.1.1 / 4.1.2 / 4.1.7.
pub const SYSTEM_ID_MAX: usize = 16;
/// password, spec 4.1.1.
pub const PASSWORD_MAX: usize = 9;
/// system_type, spec 4.1.1.
pub const SYSTEM_TYPE_MAX: usize = 13;
/// address_range, spec 4.1.1.
pub const ADDRESS_RANGE_MAX: usize = 41;
/// service_type, spec 4.4.1.
pub const SERVICE_TYPE_MAX: usize = 6;
/// source_addr / destination_addr of submit_sm, deliver_sm, submit_multi,
/// query_sm, cancel_sm, replace_sm (spec 4.4.1, 4.5.1, 4.6.1, 4.8.1, 4.9.1, 4.10.1).
pub const SM_ADDR_MAX: usize = 21;
/// source_addr / destination_addr of data_sm and the addresses of
/// alert_notification are longer (spec 4.7.1, 4.12.1).
pub const DATA_SM_ADDR_MAX: usize = 65;
/// message_id, spec 4.4.2 and 5.2.23.
pub const MESSAGE_ID_MAX: usize = 65;
/// dl_name of a submit_multi destination, spec 4.5.1.2.
pub const DL_NAME_MAX: usize = 21;
/// schedule_delivery_time / validity_period / final_date: NULL or exactly
/// 16 characters "YYMMDDhhmmsstnnp" plus the NUL (spec 7.1.1).
pub const TIME_LEN: usize = 16;
/// sm_length is one octet and capped at 254; longer user data goes into the
/// message_payload TLV (spec 5.2.21, 5.3.2.32).
pub const SHORT_MESSAGE_MAX: usize = 254;
/// number_of_dests of submit_multi, spec 4.5.1 ("maximum 254").
pub const DESTS_MAX: usize = 254;
/// no_unsuccess of submit_multi_resp cannot exceed the destinations sent.
pub const UNSUCCESS_MAX: usize = DESTS_MAX;

/// Inline capacity of a C-Octet string field: covers the NUL-less maxima of
/// addresses (20, spec 4.4.1), times (16, spec 7.1.1), service_type (5),
/// system_id (15, spec 4.1.1) and the usual message_id; longer values
/// (data_sm addresses, 64-octet ids) live on the heap.
pub const CSTR_INLINE: usize = 30;

/// A C-Octet string field's content, without the NUL.
pub type CStrBytes = SmallBytes<CSTR_INLINE>;

/// short_message: sm_length caps it at 254 octets (spec 5.2.21), so a
/// decoded one is always inline.
pub type SmBytes = SmallBytes<SHORT_MESSAGE_MAX>;

/// dest_flag values of a submit_multi destination (spec 4.5.1.1).
pub const DEST_FLAG_SME: u8 = 1;
pub const DEST_FLAG_DL: u8 = 2;

/// The command_status to answer with when a given field is wrong.
pub fn field_status(field: &str) -> u32 {
    match field {
        "system_id" => ESME_RINVSYSID,
        "password" => ESME_RINVPASWD,
        "system_type" => ESME_RINVSYSTYP,
        "service_type" => ESME_RINVSERTYP,
        "source_addr" => ESME_RINVSRCADR,
        "source_addr_ton" => ESME_RINVSRCTON,
        "source_addr_npi" => ESME_RINVSRCNPI,
        "destination_addr" | "esme_addr" => ESME_RINVDSTADR,
        "dest_addr_ton" | "esme_addr_ton" => ESME_RINVDSTTON,
        "dest_addr_npi" | "esme_addr_npi" => ESME_RINVDSTNPI,
        "esm_class" => ESME_RINVESMCLASS,
        "priority_flag" => ESME_RINVPRTFLG,
        "registered_delivery" => ESME_RINVREGDLVFLG,
        "replace_if_present_flag" => ESME_RINVREPFLAG,
        "sm_default_msg_id" => ESME_RINVDFTMSGID,
        "schedule_delivery_time" => ESME_RINVSCHED,
        "validity_period" => ESME_RINVEXPIRY,
        "short_message" | "sm_length" => ESME_RINVMSGLEN,
        "message_id" => ESME_RINVMSGID,
        "dest_addresses" | "unsuccess_smes" => ESME_RINVNUMDESTS,
        "dest_flag" => ESME_RINVDESTFLAG,
        "dl_name" => ESME_RINVDLNAME,
        _ => ESME_RINVPARLEN,
    }
}

#[cold]
fn err(field: &'static str, message: impl Into<String>) -> CodecError {
    CodecError::new(field_status(field), field, message)
}

#[cold]
#[inline(never)]
fn short_body(field: &'static str) -> CodecError {
    CodecError::new(
        ESME_RINVCMDLEN,
        field,
        format!("PDU body ends before {field}"),
    )
}

/// Checked cursor over a PDU body: every read is bounds-checked and a short
/// body is ESME_RINVCMDLEN naming the field that was cut off.
pub struct Reader<'a> {
    buf: &'a [u8],
}

impl<'a> Reader<'a> {
    pub fn new(buf: &'a [u8]) -> Self {
        Reader { buf }
    }

    pub fn rest(&self) -> &'a [u8] {
        self.buf
    }

    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    #[inline(always)]
    pub fn u8(&mut self, field: &'static str) -> Result<u8> {
        let (&b, rest) = self.buf.split_first().ok_or_else(|| short_body(field))?;
        self.buf = rest;
        Ok(b)
    }

    pub fn u32(&mut self, field: &'static str) -> Result<u32> {
        let (head, rest) = self
            .buf
            .split_first_chunk::<4>()
            .ok_or_else(|| short_body(field))?;
        self.buf = rest;
        Ok(u32::from_be_bytes(*head))
    }

    pub fn take(&mut self, n: usize, field: &'static str) -> Result<&'a [u8]> {
        if n > self.buf.len() {
            return Err(short_body(field));
        }
        let (head, rest) = self.buf.split_at(n);
        self.buf = rest;
        Ok(head)
    }

    /// A C-Octet string of at most `max` octets including the NUL. With
    /// `tail`, a body that ends before any NUL yields the remaining octets
    /// (the vendor tolerance described at the top of this file).
    #[inline]
    pub fn cstr(&mut self, max: usize, field: &'static str, tail: bool) -> Result<&'a [u8]> {
        let window = &self.buf[..self.buf.len().min(max)];
        if let Some(n) = window.iter().position(|&b| b == 0) {
            let s = &self.buf[..n];
            self.buf = &self.buf[n + 1..];
            return Ok(s);
        }
        if self.buf.len() >= max {
            return Err(err(
                field,
                format!("{field} longer than {} octets", max - 1),
            ));
        }
        if tail && !self.buf.is_empty() {
            let s = self.buf;
            self.buf = &[];
            return Ok(s);
        }
        Err(CodecError::new(
            ESME_RINVCMDLEN,
            field,
            format!("PDU body ends inside {field} (no NUL)"),
        ))
    }
}

/// How a mandatory field is laid out on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldKind {
    /// One-octet integer.
    Int,
    /// C-Octet string of at most `max` octets including the NUL.
    CStr { max: usize },
    /// As CStr, ending the mandatory part of a response: NUL may be missing.
    TailCStr { max: usize },
    /// NULL or a 16-character absolute/relative time (spec 7.1).
    Time,
    /// sm_length followed by that many octets.
    ShortMessage,
    /// number_of_dests followed by dest_address structures (submit_multi).
    Dests,
    /// no_unsuccess followed by unsuccess_sme structures (submit_multi_resp).
    Unsuccess,
}

/// One destination of a submit_multi (spec 4.5.1.1).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum DestAddress {
    Sme { ton: u8, npi: u8, addr: Vec<u8> },
    DistributionList(Vec<u8>),
}

/// One failed destination of a submit_multi_resp (spec 4.5.2.1).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct UnsuccessSme {
    pub ton: u8,
    pub npi: u8,
    pub addr: Vec<u8>,
    pub error_status_code: u32,
}

/// Read-only view of a field, for generic access by name (the Python layer).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldRef<'a> {
    Int(u8),
    /// C-Octet string content without the NUL.
    Str(&'a [u8]),
    Bytes(&'a [u8]),
    Dests(&'a [DestAddress]),
    Unsuccess(&'a [UnsuccessSme]),
}

/// An owned value to store into a field by name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FieldValue {
    Int(i64),
    Bytes(Vec<u8>),
    Dests(Vec<DestAddress>),
    Unsuccess(Vec<UnsuccessSme>),
}

/// Why `Body::set` refused a value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SetError {
    /// The body has no such field.
    NoField,
    /// Wrong kind of value for the field (the expected kind is named).
    Type(&'static str),
    /// Right kind, invalid value (out of range).
    Value(CodecError),
}

/// Storage types of mandatory fields, tying each to its wire `FieldKind`.
trait Field: Sized {
    /// Decodes into `self` in place, so inline buffers are not moved.
    fn read(&mut self, r: &mut Reader<'_>, kind: FieldKind, name: &'static str) -> Result<()>;
    /// Checks the value against the spec limits (encode side).
    fn check(&self, kind: FieldKind, name: &'static str) -> Result<()>;
    /// Appends the wire form; only called after `check` passed.
    fn write(&self, kind: FieldKind, out: &mut Vec<u8>);
    fn wire_len(&self, kind: FieldKind) -> usize;
    fn get(&self, kind: FieldKind) -> FieldRef<'_>;
    fn put(v: FieldValue, name: &'static str) -> std::result::Result<Self, SetError>;
}

impl Field for u8 {
    #[inline(always)]
    fn read(&mut self, r: &mut Reader<'_>, _: FieldKind, name: &'static str) -> Result<()> {
        *self = r.u8(name)?;
        Ok(())
    }
    fn check(&self, _: FieldKind, _: &'static str) -> Result<()> {
        Ok(())
    }
    fn write(&self, _: FieldKind, out: &mut Vec<u8>) {
        out.push(*self);
    }
    fn wire_len(&self, _: FieldKind) -> usize {
        1
    }
    fn get(&self, _: FieldKind) -> FieldRef<'_> {
        FieldRef::Int(*self)
    }
    fn put(v: FieldValue, name: &'static str) -> std::result::Result<Self, SetError> {
        match v {
            FieldValue::Int(i) => u8::try_from(i).map_err(|_| {
                SetError::Value(err(name, format!("{name} must be 0..=255, got {i}")))
            }),
            _ => Err(SetError::Type("int")),
        }
    }
}

fn check_cstr(s: &[u8], max: usize, name: &'static str) -> Result<()> {
    if s.len() >= max {
        return Err(err(name, format!("{name} longer than {} octets", max - 1)));
    }
    if s.contains(&0) {
        return Err(err(name, format!("{name} contains a NUL octet")));
    }
    Ok(())
}

fn check_time(s: &[u8], name: &'static str) -> Result<()> {
    if !s.is_empty() && s.len() != TIME_LEN {
        return Err(err(
            name,
            format!(
                "{name} must be empty or {TIME_LEN} characters, got {}",
                s.len()
            ),
        ));
    }
    check_cstr(s, TIME_LEN + 1, name)
}

impl<const N: usize> Field for SmallBytes<N> {
    #[inline]
    fn read(&mut self, r: &mut Reader<'_>, kind: FieldKind, name: &'static str) -> Result<()> {
        let s = match kind {
            FieldKind::CStr { max } => r.cstr(max, name, false)?,
            FieldKind::TailCStr { max } => r.cstr(max, name, true)?,
            FieldKind::Time => {
                let s = r.cstr(TIME_LEN + 1, name, false)?;
                check_time(s, name)?;
                s
            }
            FieldKind::ShortMessage => {
                let n = usize::from(r.u8("sm_length")?);
                if n > SHORT_MESSAGE_MAX {
                    return Err(err(name, format!("sm_length {n} over {SHORT_MESSAGE_MAX}")));
                }
                r.take(n, name).map_err(|_| {
                    CodecError::new(
                        ESME_RINVMSGLEN,
                        name,
                        format!("sm_length {n} runs past the PDU"),
                    )
                })?
            }
            _ => return unreachable_kind(kind),
        };
        self.set(s);
        Ok(())
    }
    fn check(&self, kind: FieldKind, name: &'static str) -> Result<()> {
        match kind {
            FieldKind::CStr { max } | FieldKind::TailCStr { max } => check_cstr(self, max, name),
            FieldKind::Time => check_time(self, name),
            FieldKind::ShortMessage if self.len() > SHORT_MESSAGE_MAX => Err(err(
                name,
                format!(
                    "short_message is {} octets, over {SHORT_MESSAGE_MAX}: use message_payload",
                    self.len()
                ),
            )),
            _ => Ok(()),
        }
    }
    fn write(&self, kind: FieldKind, out: &mut Vec<u8>) {
        if kind == FieldKind::ShortMessage {
            // check() bounded the length to 254.
            out.push(self.len() as u8);
            out.extend_from_slice(self);
        } else {
            out.extend_from_slice(self);
            out.push(0);
        }
    }
    fn wire_len(&self, _: FieldKind) -> usize {
        self.len() + 1
    }
    fn get(&self, kind: FieldKind) -> FieldRef<'_> {
        if kind == FieldKind::ShortMessage {
            FieldRef::Bytes(self)
        } else {
            FieldRef::Str(self)
        }
    }
    fn put(v: FieldValue, _: &'static str) -> std::result::Result<Self, SetError> {
        match v {
            FieldValue::Bytes(b) => Ok(b.into()),
            _ => Err(SetError::Type("str or bytes")),
        }
    }
}

fn unreachable_kind<T>(kind: FieldKind) -> Result<T> {
    // Only reachable through a wrong table entry in this file; report it as
    // a system error rather than panicking on a peer's input.
    Err(CodecError::new(
        ESME_RSYSERR,
        "body",
        format!("internal: field kind {kind:?} on wrong type"),
    ))
}

impl Field for Vec<DestAddress> {
    fn read(&mut self, r: &mut Reader<'_>, _: FieldKind, name: &'static str) -> Result<()> {
        let n = usize::from(r.u8("number_of_dests")?);
        if n == 0 || n > DESTS_MAX {
            return Err(err(
                name,
                format!("number_of_dests must be 1..={DESTS_MAX}, got {n}"),
            ));
        }
        let mut v = Vec::with_capacity(n);
        for _ in 0..n {
            match r.u8("dest_flag")? {
                DEST_FLAG_SME => {
                    let ton = r.u8("dest_addr_ton")?;
                    let npi = r.u8("dest_addr_npi")?;
                    let addr = r.cstr(SM_ADDR_MAX, "destination_addr", false)?.to_vec();
                    v.push(DestAddress::Sme { ton, npi, addr });
                }
                DEST_FLAG_DL => v.push(DestAddress::DistributionList(
                    r.cstr(DL_NAME_MAX, "dl_name", false)?.to_vec(),
                )),
                f => {
                    return Err(err(
                        "dest_flag",
                        format!("dest_flag must be 1 or 2, got {f}"),
                    ))
                }
            }
        }
        *self = v;
        Ok(())
    }
    fn check(&self, _: FieldKind, name: &'static str) -> Result<()> {
        if self.is_empty() || self.len() > DESTS_MAX {
            return Err(err(
                name,
                format!(
                    "submit_multi needs 1..={DESTS_MAX} destinations, got {}",
                    self.len()
                ),
            ));
        }
        for d in self {
            match d {
                DestAddress::Sme { addr, .. } => check_cstr(addr, SM_ADDR_MAX, "destination_addr")?,
                DestAddress::DistributionList(dl) => check_cstr(dl, DL_NAME_MAX, "dl_name")?,
            }
        }
        Ok(())
    }
    fn write(&self, _: FieldKind, out: &mut Vec<u8>) {
        out.push(self.len() as u8);
        for d in self {
            match d {
                DestAddress::Sme { ton, npi, addr } => {
                    out.extend_from_slice(&[DEST_FLAG_SME, *ton, *npi]);
                    out.extend_from_slice(addr);
                }
                DestAddress::DistributionList(dl) => {
                    out.push(DEST_FLAG_DL);
                    out.extend_from_slice(dl);
                }
            }
            out.push(0);
        }
    }
    fn wire_len(&self, _: FieldKind) -> usize {
        1 + self
            .iter()
            .map(|d| match d {
                DestAddress::Sme { addr, .. } => 4 + addr.len(),
                DestAddress::DistributionList(dl) => 2 + dl.len(),
            })
            .sum::<usize>()
    }
    fn get(&self, _: FieldKind) -> FieldRef<'_> {
        FieldRef::Dests(self)
    }
    fn put(v: FieldValue, _: &'static str) -> std::result::Result<Self, SetError> {
        match v {
            FieldValue::Dests(d) => Ok(d),
            _ => Err(SetError::Type(
                "list of (ton, npi, addr) tuples or distribution list names",
            )),
        }
    }
}

impl Field for Vec<UnsuccessSme> {
    fn read(&mut self, r: &mut Reader<'_>, _: FieldKind, _: &'static str) -> Result<()> {
        let n = usize::from(r.u8("no_unsuccess")?);
        let mut v = Vec::with_capacity(n);
        for _ in 0..n {
            let ton = r.u8("dest_addr_ton")?;
            let npi = r.u8("dest_addr_npi")?;
            let addr = r.cstr(SM_ADDR_MAX, "destination_addr", false)?.to_vec();
            let error_status_code = r.u32("error_status_code")?;
            v.push(UnsuccessSme {
                ton,
                npi,
                addr,
                error_status_code,
            });
        }
        *self = v;
        Ok(())
    }
    fn check(&self, _: FieldKind, name: &'static str) -> Result<()> {
        if self.len() > UNSUCCESS_MAX {
            return Err(err(
                name,
                format!(
                    "at most {UNSUCCESS_MAX} unsuccessful destinations, got {}",
                    self.len()
                ),
            ));
        }
        self.iter()
            .try_for_each(|u| check_cstr(&u.addr, SM_ADDR_MAX, "destination_addr"))
    }
    fn write(&self, _: FieldKind, out: &mut Vec<u8>) {
        out.push(self.len() as u8);
        for u in self {
            out.extend_from_slice(&[u.ton, u.npi]);
            out.extend_from_slice(&u.addr);
            out.push(0);
            out.extend_from_slice(&u.error_status_code.to_be_bytes());
        }
    }
    fn wire_len(&self, _: FieldKind) -> usize {
        1 + self.iter().map(|u| 7 + u.addr.len()).sum::<usize>()
    }
    fn get(&self, _: FieldKind) -> FieldRef<'_> {
        FieldRef::Unsuccess(self)
    }
    fn put(v: FieldValue, _: &'static str) -> std::result::Result<Self, SetError> {
        match v {
            FieldValue::Unsuccess(u) => Ok(u),
            _ => Err(SetError::Type(
                "list of (ton, npi, addr, error_status_code) tuples",
            )),
        }
    }
}

use FieldKind::{CStr, Dests, Int, ShortMessage, TailCStr, Time, Unsuccess};

/// Generates the field table, decode, check, encode and by-name access of a
/// body struct from one list of (field, wire kind), in wire order. `tlvs`
/// says whether optional parameters may follow the mandatory fields.
macro_rules! body_impl {
    (@tlvs yes, read, $b:ident, $r:ident) => { tlv::decode_area($r.rest(), &mut $b.tlvs)?; };
    (@tlvs no, read, $b:ident, $r:ident) => {
        if !$r.is_empty() {
            return Err(CodecError::new(
                ESME_RINVCMDLEN,
                "body",
                format!("{} octets after the last mandatory field", $r.rest().len()),
            ));
        }
    };
    (@tlvs yes, check, $s:ident) => { $s.tlvs.iter().try_for_each(Tlv::validate)?; };
    (@tlvs no, check, $s:ident) => {};
    (@tlvs yes, write, $s:ident, $out:ident) => {
        for t in &$s.tlvs {
            $out.extend_from_slice(&t.tag.to_be_bytes());
            $out.extend_from_slice(&(t.value.len() as u16).to_be_bytes());
            $out.extend_from_slice(&t.value);
        }
    };
    (@tlvs no, write, $s:ident, $out:ident) => {};
    (@tlvs yes, len, $s:ident) => { tlv::encoded_len(&$s.tlvs) };
    (@tlvs no, len, $s:ident) => { 0 };
    (@tlvs yes, ref, $s:ident) => { Some(&$s.tlvs) };
    (@tlvs no, ref, $s:ident) => { None };
    (@tlvs yes, mut, $s:ident) => { Some(&mut $s.tlvs) };
    (@tlvs no, mut, $s:ident) => { None };

    ($name:ident { $($field:ident: $kind:expr),* $(,)? } tlvs: $t:tt) => {
        impl $name {
            /// Mandatory fields in wire order with their layout.
            pub const FIELDS: &'static [(&'static str, FieldKind)] = &[$((stringify!($field), $kind)),*];

            fn fields(&self) -> &'static [(&'static str, FieldKind)] {
                Self::FIELDS
            }

            /// Decodes into a boxed default, so the struct is built in place
            /// rather than moved into its box.
            fn read(r: &mut Reader<'_>) -> Result<Box<Self>> {
                let mut b = Box::<Self>::default();
                $(Field::read(&mut b.$field, r, $kind, stringify!($field))?;)*
                body_impl!(@tlvs $t, read, b, r);
                Ok(b)
            }

            fn check(&self) -> Result<()> {
                $(self.$field.check($kind, stringify!($field))?;)*
                body_impl!(@tlvs $t, check, self);
                Ok(())
            }

            fn write(&self, out: &mut Vec<u8>) {
                $(self.$field.write($kind, out);)*
                body_impl!(@tlvs $t, write, self, out);
            }

            fn wire_len(&self) -> usize {
                0 $(+ self.$field.wire_len($kind))* + body_impl!(@tlvs $t, len, self)
            }

            fn get(&self, name: &str) -> Option<FieldRef<'_>> {
                $(if name == stringify!($field) {
                    return Some(self.$field.get($kind));
                })*
                None
            }

            fn set(&mut self, name: &str, v: FieldValue) -> std::result::Result<(), SetError> {
                $(if name == stringify!($field) {
                    self.$field = Field::put(v, stringify!($field))?;
                    return Ok(());
                })*
                Err(SetError::NoField)
            }

            fn tlvs(&self) -> Option<&Vec<Tlv>> {
                body_impl!(@tlvs $t, ref, self)
            }

            fn tlvs_mut(&mut self) -> Option<&mut Vec<Tlv>> {
                body_impl!(@tlvs $t, mut, self)
            }
        }
    };
}

/// bind_transmitter, bind_receiver, bind_transceiver (spec 4.1.1, 4.1.3, 4.1.5).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct Bind {
    pub system_id: CStrBytes,
    pub password: CStrBytes,
    pub system_type: CStrBytes,
    pub interface_version: u8,
    pub addr_ton: u8,
    pub addr_npi: u8,
    pub address_range: CStrBytes,
}
body_impl!(Bind {
    system_id: CStr { max: SYSTEM_ID_MAX },
    password: CStr { max: PASSWORD_MAX },
    system_type: CStr { max: SYSTEM_TYPE_MAX },
    interface_version: Int,
    addr_ton: Int,
    addr_npi: Int,
    address_range: CStr { max: ADDRESS_RANGE_MAX },
} tlvs: no);

/// bind_*_resp (spec 4.1.2, 4.1.4, 4.1.6); TLV sc_interface_version.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct BindResp {
    pub system_id: CStrBytes,
    pub tlvs: Vec<Tlv>,
}
body_impl!(BindResp { system_id: TailCStr { max: SYSTEM_ID_MAX } } tlvs: yes);

/// outbind (spec 4.1.7).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct Outbind {
    pub system_id: CStrBytes,
    pub password: CStrBytes,
}
body_impl!(Outbind {
    system_id: CStr { max: SYSTEM_ID_MAX },
    password: CStr { max: PASSWORD_MAX },
} tlvs: no);

/// submit_sm and deliver_sm share one layout (spec 4.4.1, 4.6.1).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct Sm {
    pub service_type: CStrBytes,
    pub source_addr_ton: u8,
    pub source_addr_npi: u8,
    pub source_addr: CStrBytes,
    pub dest_addr_ton: u8,
    pub dest_addr_npi: u8,
    pub destination_addr: CStrBytes,
    pub esm_class: u8,
    pub protocol_id: u8,
    pub priority_flag: u8,
    pub schedule_delivery_time: CStrBytes,
    pub validity_period: CStrBytes,
    pub registered_delivery: u8,
    pub replace_if_present_flag: u8,
    pub data_coding: u8,
    pub sm_default_msg_id: u8,
    pub short_message: SmBytes,
    pub tlvs: Vec<Tlv>,
}
body_impl!(Sm {
    service_type: CStr { max: SERVICE_TYPE_MAX },
    source_addr_ton: Int,
    source_addr_npi: Int,
    source_addr: CStr { max: SM_ADDR_MAX },
    dest_addr_ton: Int,
    dest_addr_npi: Int,
    destination_addr: CStr { max: SM_ADDR_MAX },
    esm_class: Int,
    protocol_id: Int,
    priority_flag: Int,
    schedule_delivery_time: Time,
    validity_period: Time,
    registered_delivery: Int,
    replace_if_present_flag: Int,
    data_coding: Int,
    sm_default_msg_id: Int,
    short_message: ShortMessage,
} tlvs: yes);

/// Unchecked-error cursor for the fast decode path: every read is still
/// bounds-checked, but a failure is just `None` (no error value built or
/// moved), and the caller re-runs the checked `Reader` to produce the error.
struct Fast<'a>(&'a [u8]);

impl<'a> Fast<'a> {
    #[inline(always)]
    fn u8(&mut self) -> Option<u8> {
        let (&b, rest) = self.0.split_first()?;
        self.0 = rest;
        Some(b)
    }

    /// Same acceptance as `Reader::cstr(max, _, false)`: a NUL within the
    /// first `max` octets.
    #[inline(always)]
    fn cstr(&mut self, max: usize) -> Option<&'a [u8]> {
        let window = self.0.get(..self.0.len().min(max))?;
        let n = window.iter().position(|&b| b == 0)?;
        let s = self.0.get(..n)?;
        self.0 = self.0.get(n + 1..)?;
        Some(s)
    }

    /// A Time field: NULL or exactly TIME_LEN characters (as `check_time`).
    #[inline(always)]
    fn time(&mut self) -> Option<&'a [u8]> {
        let s = self.cstr(TIME_LEN + 1)?;
        (s.is_empty() || s.len() == TIME_LEN).then_some(s)
    }
}

impl Sm {
    /// submit_sm / deliver_sm are the hot path: the mandatory fields read
    /// straight into a new box, without the per-field `Result<_, CodecError>`
    /// plumbing of `read`. Accepts exactly what `read` accepts for the
    /// mandatory part (same limits, same order); on anything else it gives
    /// None and `read` runs to report the exact error.
    #[inline]
    fn read_fast(data: &[u8]) -> Option<(Box<Sm>, &[u8])> {
        let mut f = Fast(data);
        let service_type = f.cstr(SERVICE_TYPE_MAX)?;
        let source_addr_ton = f.u8()?;
        let source_addr_npi = f.u8()?;
        let source_addr = f.cstr(SM_ADDR_MAX)?;
        let dest_addr_ton = f.u8()?;
        let dest_addr_npi = f.u8()?;
        let destination_addr = f.cstr(SM_ADDR_MAX)?;
        let esm_class = f.u8()?;
        let protocol_id = f.u8()?;
        let priority_flag = f.u8()?;
        let schedule_delivery_time = f.time()?;
        let validity_period = f.time()?;
        let registered_delivery = f.u8()?;
        let replace_if_present_flag = f.u8()?;
        let data_coding = f.u8()?;
        let sm_default_msg_id = f.u8()?;
        let n = usize::from(f.u8()?);
        if n > SHORT_MESSAGE_MAX {
            return None;
        }
        let short_message = f.0.get(..n)?;
        let rest = f.0.get(n..)?;
        // Filled in place: building the struct by value would move its
        // inline buffers (several hundred octets) twice.
        let mut b = Box::<Sm>::default();
        b.service_type.set(service_type);
        b.source_addr_ton = source_addr_ton;
        b.source_addr_npi = source_addr_npi;
        b.source_addr.set(source_addr);
        b.dest_addr_ton = dest_addr_ton;
        b.dest_addr_npi = dest_addr_npi;
        b.destination_addr.set(destination_addr);
        b.esm_class = esm_class;
        b.protocol_id = protocol_id;
        b.priority_flag = priority_flag;
        b.schedule_delivery_time.set(schedule_delivery_time);
        b.validity_period.set(validity_period);
        b.registered_delivery = registered_delivery;
        b.replace_if_present_flag = replace_if_present_flag;
        b.data_coding = data_coding;
        b.sm_default_msg_id = sm_default_msg_id;
        b.short_message.set(short_message);
        Some((b, rest))
    }
}

/// submit_sm_resp, deliver_sm_resp, data_sm_resp (spec 4.4.2, 4.6.2, 4.7.2).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct MessageIdResp {
    pub message_id: CStrBytes,
    pub tlvs: Vec<Tlv>,
}
body_impl!(MessageIdResp { message_id: TailCStr { max: MESSAGE_ID_MAX } } tlvs: yes);

/// submit_multi (spec 4.5.1).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct SubmitMulti {
    pub service_type: CStrBytes,
    pub source_addr_ton: u8,
    pub source_addr_npi: u8,
    pub source_addr: CStrBytes,
    pub dest_addresses: Vec<DestAddress>,
    pub esm_class: u8,
    pub protocol_id: u8,
    pub priority_flag: u8,
    pub schedule_delivery_time: CStrBytes,
    pub validity_period: CStrBytes,
    pub registered_delivery: u8,
    pub replace_if_present_flag: u8,
    pub data_coding: u8,
    pub sm_default_msg_id: u8,
    pub short_message: SmBytes,
    pub tlvs: Vec<Tlv>,
}
body_impl!(SubmitMulti {
    service_type: CStr { max: SERVICE_TYPE_MAX },
    source_addr_ton: Int,
    source_addr_npi: Int,
    source_addr: CStr { max: SM_ADDR_MAX },
    dest_addresses: Dests,
    esm_class: Int,
    protocol_id: Int,
    priority_flag: Int,
    schedule_delivery_time: Time,
    validity_period: Time,
    registered_delivery: Int,
    replace_if_present_flag: Int,
    data_coding: Int,
    sm_default_msg_id: Int,
    short_message: ShortMessage,
} tlvs: yes);

/// submit_multi_resp (spec 4.5.2).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct SubmitMultiResp {
    pub message_id: CStrBytes,
    pub unsuccess_smes: Vec<UnsuccessSme>,
}
body_impl!(SubmitMultiResp {
    message_id: CStr { max: MESSAGE_ID_MAX },
    unsuccess_smes: Unsuccess,
} tlvs: no);

/// data_sm (spec 4.7.1).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct DataSm {
    pub service_type: CStrBytes,
    pub source_addr_ton: u8,
    pub source_addr_npi: u8,
    pub source_addr: CStrBytes,
    pub dest_addr_ton: u8,
    pub dest_addr_npi: u8,
    pub destination_addr: CStrBytes,
    pub esm_class: u8,
    pub registered_delivery: u8,
    pub data_coding: u8,
    pub tlvs: Vec<Tlv>,
}
body_impl!(DataSm {
    service_type: CStr { max: SERVICE_TYPE_MAX },
    source_addr_ton: Int,
    source_addr_npi: Int,
    source_addr: CStr { max: DATA_SM_ADDR_MAX },
    dest_addr_ton: Int,
    dest_addr_npi: Int,
    destination_addr: CStr { max: DATA_SM_ADDR_MAX },
    esm_class: Int,
    registered_delivery: Int,
    data_coding: Int,
} tlvs: yes);

/// query_sm (spec 4.8.1).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct QuerySm {
    pub message_id: CStrBytes,
    pub source_addr_ton: u8,
    pub source_addr_npi: u8,
    pub source_addr: CStrBytes,
}
body_impl!(QuerySm {
    message_id: CStr { max: MESSAGE_ID_MAX },
    source_addr_ton: Int,
    source_addr_npi: Int,
    source_addr: CStr { max: SM_ADDR_MAX },
} tlvs: no);

/// query_sm_resp (spec 4.8.2).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct QuerySmResp {
    pub message_id: CStrBytes,
    pub final_date: CStrBytes,
    pub message_state: u8,
    pub error_code: u8,
}
body_impl!(QuerySmResp {
    message_id: CStr { max: MESSAGE_ID_MAX },
    final_date: Time,
    message_state: Int,
    error_code: Int,
} tlvs: no);

/// cancel_sm (spec 4.9.1).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct CancelSm {
    pub service_type: CStrBytes,
    pub message_id: CStrBytes,
    pub source_addr_ton: u8,
    pub source_addr_npi: u8,
    pub source_addr: CStrBytes,
    pub dest_addr_ton: u8,
    pub dest_addr_npi: u8,
    pub destination_addr: CStrBytes,
}
body_impl!(CancelSm {
    service_type: CStr { max: SERVICE_TYPE_MAX },
    message_id: CStr { max: MESSAGE_ID_MAX },
    source_addr_ton: Int,
    source_addr_npi: Int,
    source_addr: CStr { max: SM_ADDR_MAX },
    dest_addr_ton: Int,
    dest_addr_npi: Int,
    destination_addr: CStr { max: SM_ADDR_MAX },
} tlvs: no);

/// replace_sm (spec 4.10.1).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct ReplaceSm {
    pub message_id: CStrBytes,
    pub source_addr_ton: u8,
    pub source_addr_npi: u8,
    pub source_addr: CStrBytes,
    pub schedule_delivery_time: CStrBytes,
    pub validity_period: CStrBytes,
    pub registered_delivery: u8,
    pub sm_default_msg_id: u8,
    pub short_message: SmBytes,
}
body_impl!(ReplaceSm {
    message_id: CStr { max: MESSAGE_ID_MAX },
    source_addr_ton: Int,
    source_addr_npi: Int,
    source_addr: CStr { max: SM_ADDR_MAX },
    schedule_delivery_time: Time,
    validity_period: Time,
    registered_delivery: Int,
    sm_default_msg_id: Int,
    short_message: ShortMessage,
} tlvs: no);

/// alert_notification (spec 4.12.1); TLV ms_availability_status.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct AlertNotification {
    pub source_addr_ton: u8,
    pub source_addr_npi: u8,
    pub source_addr: CStrBytes,
    pub esme_addr_ton: u8,
    pub esme_addr_npi: u8,
    pub esme_addr: CStrBytes,
    pub tlvs: Vec<Tlv>,
}
body_impl!(AlertNotification {
    source_addr_ton: Int,
    source_addr_npi: Int,
    source_addr: CStr { max: DATA_SM_ADDR_MAX },
    esme_addr_ton: Int,
    esme_addr_npi: Int,
    esme_addr: CStr { max: DATA_SM_ADDR_MAX },
} tlvs: yes);

/// The body of a PDU, one variant per layout. Commands that share a layout
/// share a variant (submit_sm and deliver_sm are both `Sm`); the command_id
/// of the `Pdu` says which one it is. Bodies are boxed: a `Pdu` stays a
/// few words, so results and Python objects move cheaply (an unboxed Sm made
/// memmove the largest cost of decoding).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Body {
    /// generic_nack, unbind(_resp), enquire_link(_resp), cancel_sm_resp,
    /// replace_sm_resp: header only.
    Empty,
    Bind(Box<Bind>),
    BindResp(Box<BindResp>),
    Outbind(Box<Outbind>),
    Sm(Box<Sm>),
    MessageIdResp(Box<MessageIdResp>),
    SubmitMulti(Box<SubmitMulti>),
    SubmitMultiResp(Box<SubmitMultiResp>),
    DataSm(Box<DataSm>),
    QuerySm(Box<QuerySm>),
    QuerySmResp(Box<QuerySmResp>),
    CancelSm(Box<CancelSm>),
    ReplaceSm(Box<ReplaceSm>),
    AlertNotification(Box<AlertNotification>),
}

/// Runs `$e` with `$b` bound to the struct of any non-empty variant.
macro_rules! each_body {
    ($body:expr, $b:ident => $e:expr, empty => $empty:expr) => {
        match $body {
            Body::Empty => $empty,
            Body::Bind($b) => $e,
            Body::BindResp($b) => $e,
            Body::Outbind($b) => $e,
            Body::Sm($b) => $e,
            Body::MessageIdResp($b) => $e,
            Body::SubmitMulti($b) => $e,
            Body::SubmitMultiResp($b) => $e,
            Body::DataSm($b) => $e,
            Body::QuerySm($b) => $e,
            Body::QuerySmResp($b) => $e,
            Body::CancelSm($b) => $e,
            Body::ReplaceSm($b) => $e,
            Body::AlertNotification($b) => $e,
        }
    };
}

impl Body {
    /// The empty (all defaults) body for a command; None for an unknown id.
    pub fn for_command(command_id: u32) -> Option<Body> {
        Some(match command_id {
            GENERIC_NACK | UNBIND | UNBIND_RESP | ENQUIRE_LINK | ENQUIRE_LINK_RESP
            | CANCEL_SM_RESP | REPLACE_SM_RESP => Body::Empty,
            BIND_RECEIVER | BIND_TRANSMITTER | BIND_TRANSCEIVER => Body::Bind(Box::default()),
            BIND_RECEIVER_RESP | BIND_TRANSMITTER_RESP | BIND_TRANSCEIVER_RESP => {
                Body::BindResp(Box::default())
            }
            OUTBIND => Body::Outbind(Box::default()),
            SUBMIT_SM | DELIVER_SM => Body::Sm(Box::default()),
            SUBMIT_SM_RESP | DELIVER_SM_RESP | DATA_SM_RESP => Body::MessageIdResp(Box::default()),
            SUBMIT_MULTI => Body::SubmitMulti(Box::default()),
            SUBMIT_MULTI_RESP => Body::SubmitMultiResp(Box::default()),
            DATA_SM => Body::DataSm(Box::default()),
            QUERY_SM => Body::QuerySm(Box::default()),
            QUERY_SM_RESP => Body::QuerySmResp(Box::default()),
            CANCEL_SM => Body::CancelSm(Box::default()),
            REPLACE_SM => Body::ReplaceSm(Box::default()),
            ALERT_NOTIFICATION => Body::AlertNotification(Box::default()),
            _ => return None,
        })
    }

    /// Whether this body has the layout of `command_id`.
    pub fn fits(&self, command_id: u32) -> bool {
        Body::for_command(command_id)
            .is_some_and(|b| std::mem::discriminant(&b) == std::mem::discriminant(self))
    }

    /// Mandatory fields in wire order (tlvs not included).
    pub fn fields(&self) -> &'static [(&'static str, FieldKind)] {
        each_body!(self, b => b.fields(), empty => &[])
    }

    pub fn kind(&self, name: &str) -> Option<FieldKind> {
        self.fields()
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, k)| *k)
    }

    pub fn get(&self, name: &str) -> Option<FieldRef<'_>> {
        each_body!(self, b => b.get(name), empty => None)
    }

    pub fn set(&mut self, name: &str, v: FieldValue) -> std::result::Result<(), SetError> {
        each_body!(self, b => b.set(name, v), empty => Err(SetError::NoField))
    }

    /// Whether optional parameters may follow this body.
    pub fn takes_tlvs(&self) -> bool {
        each_body!(self, b => b.tlvs().is_some(), empty => false)
    }

    /// The TLVs (empty for layouts without optional parameters).
    pub fn tlvs(&self) -> &[Tlv] {
        each_body!(self, b => b.tlvs().map_or(&[][..], |v| v.as_slice()), empty => &[])
    }

    pub fn tlvs_mut(&mut self) -> Option<&mut Vec<Tlv>> {
        each_body!(self, b => b.tlvs_mut(), empty => None)
    }

    /// short_message, for the layouts that have one.
    pub fn short_message(&self) -> Option<&[u8]> {
        match self {
            Body::Sm(b) => Some(&b.short_message),
            Body::SubmitMulti(b) => Some(&b.short_message),
            Body::ReplaceSm(b) => Some(&b.short_message),
            _ => None,
        }
    }

    fn read(command_id: u32, r: &mut Reader<'_>) -> Result<Body> {
        Ok(match command_id {
            GENERIC_NACK | UNBIND | UNBIND_RESP | ENQUIRE_LINK | ENQUIRE_LINK_RESP
            | CANCEL_SM_RESP | REPLACE_SM_RESP => {
                if !r.is_empty() {
                    return Err(CodecError::new(
                        ESME_RINVCMDLEN,
                        "body",
                        format!(
                            "{} has no body, got {} octets",
                            command_name(command_id).unwrap_or("?"),
                            r.rest().len()
                        ),
                    ));
                }
                Body::Empty
            }
            BIND_RECEIVER | BIND_TRANSMITTER | BIND_TRANSCEIVER => Body::Bind(Bind::read(r)?),
            BIND_RECEIVER_RESP | BIND_TRANSMITTER_RESP | BIND_TRANSCEIVER_RESP => {
                Body::BindResp(BindResp::read(r)?)
            }
            OUTBIND => Body::Outbind(Outbind::read(r)?),
            SUBMIT_SM | DELIVER_SM => match Sm::read_fast(r.rest()) {
                Some((mut b, tlvs)) => {
                    tlv::decode_area(tlvs, &mut b.tlvs)?;
                    Body::Sm(b)
                }
                None => Body::Sm(Sm::read(r)?),
            },
            SUBMIT_SM_RESP | DELIVER_SM_RESP | DATA_SM_RESP => {
                Body::MessageIdResp(MessageIdResp::read(r)?)
            }
            SUBMIT_MULTI => Body::SubmitMulti(SubmitMulti::read(r)?),
            SUBMIT_MULTI_RESP => Body::SubmitMultiResp(SubmitMultiResp::read(r)?),
            DATA_SM => Body::DataSm(DataSm::read(r)?),
            QUERY_SM => Body::QuerySm(QuerySm::read(r)?),
            QUERY_SM_RESP => Body::QuerySmResp(QuerySmResp::read(r)?),
            CANCEL_SM => Body::CancelSm(CancelSm::read(r)?),
            REPLACE_SM => Body::ReplaceSm(ReplaceSm::read(r)?),
            ALERT_NOTIFICATION => Body::AlertNotification(AlertNotification::read(r)?),
            _ => return Err(unknown_command(command_id)),
        })
    }

    /// Field limits plus the rules that span fields.
    pub fn check(&self) -> Result<()> {
        each_body!(self, b => b.check()?, empty => ());
        self.check_payload()
    }

    /// short_message and message_payload must not be used together (spec 5.3.2.32).
    fn check_payload(&self) -> Result<()> {
        if let Some(sm) = self.short_message() {
            if !sm.is_empty() && self.tlvs().iter().any(|t| t.tag == tlv::MESSAGE_PAYLOAD) {
                return Err(CodecError::new(
                    ESME_RINVMSGLEN,
                    "short_message",
                    "short_message and message_payload cannot both carry data",
                ));
            }
        }
        Ok(())
    }

    fn write(&self, out: &mut Vec<u8>) {
        each_body!(self, b => b.write(out), empty => ())
    }

    pub fn wire_len(&self) -> usize {
        each_body!(self, b => b.wire_len(), empty => 0)
    }
}

fn unknown_command(command_id: u32) -> CodecError {
    CodecError::new(
        ESME_RINVCMDID,
        "command_id",
        format!("unknown command_id 0x{command_id:08X}"),
    )
}

/// The four header fields (spec 3.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    pub command_length: u32,
    pub command_id: u32,
    pub command_status: u32,
    pub sequence_number: u32,
}

impl Header {
    /// Reads a header from the first 16 octets, None if there are fewer.
    pub fn parse(data: &[u8]) -> Option<Header> {
        let h = data.first_chunk::<HEADER_LEN>()?;
        let word = |i: usize| u32::from_be_bytes([h[i], h[i + 1], h[i + 2], h[i + 3]]);
        Some(Header {
            command_length: word(0),
            command_id: word(4),
            command_status: word(8),
            sequence_number: word(12),
        })
    }
}

/// One SMPP PDU.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Pdu {
    pub command_id: u32,
    pub command_status: u32,
    pub sequence_number: u32,
    pub body: Body,
}

impl Pdu {
    /// A PDU of the given command with an all-defaults body.
    pub fn new(command_id: u32, sequence_number: u32) -> Result<Pdu> {
        let body = Body::for_command(command_id).ok_or_else(|| unknown_command(command_id))?;
        Ok(Pdu {
            command_id,
            command_status: ESME_ROK,
            sequence_number,
            body,
        })
    }

    pub fn generic_nack(sequence_number: u32, command_status: u32) -> Pdu {
        Pdu {
            command_id: GENERIC_NACK,
            command_status,
            sequence_number,
            body: Body::Empty,
        }
    }

    pub fn command_name(&self) -> Option<&'static str> {
        command_name(self.command_id)
    }

    pub fn is_response(&self) -> bool {
        is_response(self.command_id)
    }

    /// Everything `encode_into` checks, without encoding.
    pub fn check(&self) -> Result<()> {
        if !self.body.fits(self.command_id) {
            return Err(match command_name(self.command_id) {
                None => unknown_command(self.command_id),
                Some(n) => CodecError::new(
                    ESME_RSYSERR,
                    "body",
                    format!("body layout does not fit {n}"),
                ),
            });
        }
        self.body.check()
    }

    /// spec 4.4.2: "The submit_sm_resp PDU Body is not returned if the
    /// command_status field contains a non-zero value."
    fn omits_body(&self) -> bool {
        self.command_id == SUBMIT_SM_RESP
            && self.command_status != ESME_ROK
            && matches!(&self.body, Body::MessageIdResp(b) if b.message_id.is_empty() && b.tlvs.is_empty())
    }

    pub fn encoded_len(&self) -> usize {
        HEADER_LEN
            + if self.omits_body() {
                0
            } else {
                self.body.wire_len()
            }
    }
}

/// Decodes exactly one PDU; `data` must be the whole PDU (command_length
/// equal to its length).
pub fn decode(data: &[u8]) -> Result<Pdu> {
    let Some(h) = Header::parse(data) else {
        return Err(CodecError::new(
            ESME_RINVCMDLEN,
            "command_length",
            format!(
                "{} octets cannot hold a {HEADER_LEN}-octet header",
                data.len()
            ),
        ));
    };
    if usize::try_from(h.command_length).ok() != Some(data.len()) {
        return Err(CodecError::new(
            ESME_RINVCMDLEN,
            "command_length",
            format!(
                "command_length {} but {} octets given",
                h.command_length,
                data.len()
            ),
        ));
    }
    decode_body(&h, &data[HEADER_LEN..])
}

/// Decodes a body whose header has already been read (the framer's path).
pub fn decode_body(h: &Header, body: &[u8]) -> Result<Pdu> {
    let empty_ok = body.is_empty()
        && is_response(h.command_id)
        && (h.command_status != ESME_ROK || h.command_id == DELIVER_SM_RESP);
    let body = if empty_ok {
        Body::for_command(h.command_id).ok_or_else(|| unknown_command(h.command_id))?
    } else {
        let b = Body::read(h.command_id, &mut Reader::new(body))?;
        b.check_payload()?;
        b
    };
    Ok(Pdu {
        command_id: h.command_id,
        command_status: h.command_status,
        sequence_number: h.sequence_number,
        body,
    })
}

/// Appends the encoded PDU to `out`. On error nothing is appended.
pub fn encode_into(pdu: &Pdu, out: &mut Vec<u8>) -> Result<()> {
    pdu.check()?;
    let len = pdu.encoded_len();
    let command_length = u32::try_from(len).map_err(|_| {
        CodecError::new(
            ESME_RINVCMDLEN,
            "command_length",
            format!("PDU of {len} octets"),
        )
    })?;
    out.reserve(len);
    out.extend_from_slice(&command_length.to_be_bytes());
    out.extend_from_slice(&pdu.command_id.to_be_bytes());
    out.extend_from_slice(&pdu.command_status.to_be_bytes());
    out.extend_from_slice(&pdu.sequence_number.to_be_bytes());
    if !pdu.omits_body() {
        pdu.body.write(out);
    }
    Ok(())
}

pub fn encode(pdu: &Pdu) -> Result<Vec<u8>> {
    let mut out = Vec::with_capacity(pdu.encoded_len());
    encode_into(pdu, &mut out)?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The fast submit_sm/deliver_sm reader must agree with the checked one
    /// on every input: same body when both succeed, and it must never accept
    /// what the checked reader refuses (it then falls back to it).
    #[test]
    fn fast_sm_reader_agrees_with_checked_reader() {
        let mut bodies: Vec<Vec<u8>> = Vec::new();
        for p in [sm(), Sm { schedule_delivery_time: Default::default(), ..sm() }] {
            let pdu = Pdu { command_id: SUBMIT_SM, command_status: 0, sequence_number: 1, body: Body::Sm(Box::new(p)) };
            bodies.push(encode(&pdu).unwrap()[HEADER_LEN..].to_vec());
        }
        let mut cases = Vec::new();
        for b in &bodies {
            for n in 0..=b.len() {
                cases.push(b[..n].to_vec());
            }
            for i in 0..b.len() {
                for v in [0x00, 0x01, 0x10, 0x7F, 0xFF] {
                    let mut m = b.clone();
                    m[i] = v;
                    cases.push(m);
                }
            }
        }
        for c in &cases {
            let checked = Sm::read(&mut Reader::new(c));
            let fast = Sm::read_fast(c).map(|(mut b, rest)| tlv::decode_area(rest, &mut b.tlvs).map(|()| b));
            match (fast, checked) {
                (None, _) => {}
                (Some(f), ch) => assert_eq!(f, ch, "input {c:?}"),
            }
            // And the public path gives exactly the checked result.
            assert_eq!(Body::read(SUBMIT_SM, &mut Reader::new(c)), Sm::read(&mut Reader::new(c)).map(Body::Sm));
        }
    }

    fn sm() -> Sm {
        Sm {
            service_type: b"CMT".into(),
            source_addr_ton: 5,
            source_addr_npi: 0,
            source_addr: b"byosms".into(),
            dest_addr_ton: 1,
            dest_addr_npi: 1,
            destination_addr: b"447700900123".into(),
            esm_class: 0x40,
            protocol_id: 0,
            priority_flag: 1,
            schedule_delivery_time: b"240101120000000+".into(),
            validity_period: b"000001000000000R".into(),
            registered_delivery: 1,
            replace_if_present_flag: 0,
            data_coding: 8,
            sm_default_msg_id: 0,
            short_message: b"\x05\x00\x03\x2a\x02\x01hi".into(),
            tlvs: vec![
                Tlv::from_u16(tlv::SAR_MSG_REF_NUM, 42),
                Tlv::new(0x1401, b"vendor".to_vec()),
            ],
        }
    }

    /// One sample of every command, with non-default values in every field.
    fn samples() -> Vec<Pdu> {
        let p = |command_id, body| Pdu {
            command_id,
            command_status: 0,
            sequence_number: 7,
            body,
        };
        let bind = Bind {
            system_id: b"sysid_15_chars_".into(),
            password: b"secret12".into(),
            system_type: b"VMA".into(),
            interface_version: 0x34,
            addr_ton: 1,
            addr_npi: 1,
            address_range: b"^44".into(),
        };
        let bind_resp = BindResp {
            system_id: b"SMSC".into(),
            tlvs: vec![Tlv::from_u8(tlv::SC_INTERFACE_VERSION, 0x34)],
        };
        let msg_resp = MessageIdResp {
            message_id: b"0123456789abcdef".into(),
            tlvs: vec![],
        };
        let mut out = vec![
            p(GENERIC_NACK, Body::Empty),
            p(BIND_RECEIVER, Body::Bind(Box::new(bind.clone()))),
            p(BIND_TRANSMITTER, Body::Bind(Box::new(bind.clone()))),
            p(BIND_TRANSCEIVER, Body::Bind(Box::new(bind))),
            p(
                BIND_RECEIVER_RESP,
                Body::BindResp(Box::new(bind_resp.clone())),
            ),
            p(
                BIND_TRANSMITTER_RESP,
                Body::BindResp(Box::new(bind_resp.clone())),
            ),
            p(BIND_TRANSCEIVER_RESP, Body::BindResp(Box::new(bind_resp))),
            p(
                OUTBIND,
                Body::Outbind(Box::new(Outbind {
                    system_id: b"smsc".into(),
                    password: b"pw".into(),
                })),
            ),
            p(UNBIND, Body::Empty),
            p(UNBIND_RESP, Body::Empty),
            p(ENQUIRE_LINK, Body::Empty),
            p(ENQUIRE_LINK_RESP, Body::Empty),
            p(SUBMIT_SM, Body::Sm(Box::new(sm()))),
            p(
                SUBMIT_SM_RESP,
                Body::MessageIdResp(Box::new(msg_resp.clone())),
            ),
            p(
                DELIVER_SM,
                Body::Sm(Box::new(Sm {
                    schedule_delivery_time: vec![].into(),
                    validity_period: vec![].into(),
                    ..sm()
                })),
            ),
            p(DELIVER_SM_RESP, Body::MessageIdResp(Box::default())),
            p(
                DATA_SM_RESP,
                Body::MessageIdResp(Box::new(MessageIdResp {
                    tlvs: vec![Tlv::from_u8(tlv::DELIVERY_FAILURE_REASON, 2)],
                    ..msg_resp
                })),
            ),
            p(
                SUBMIT_MULTI,
                Body::SubmitMulti(Box::new(SubmitMulti {
                    service_type: vec![].into(),
                    source_addr_ton: 1,
                    source_addr_npi: 1,
                    source_addr: b"12345".into(),
                    dest_addresses: vec![
                        DestAddress::Sme {
                            ton: 1,
                            npi: 1,
                            addr: b"447700900001".to_vec(),
                        },
                        DestAddress::DistributionList(b"friends".to_vec()),
                    ],
                    esm_class: 0,
                    protocol_id: 0,
                    priority_flag: 0,
                    schedule_delivery_time: vec![].into(),
                    validity_period: vec![].into(),
                    registered_delivery: 1,
                    replace_if_present_flag: 0,
                    data_coding: 0,
                    sm_default_msg_id: 0,
                    short_message: vec![].into(),
                    tlvs: vec![Tlv::new(tlv::MESSAGE_PAYLOAD, vec![b'x'; 1000])],
                })),
            ),
            p(
                SUBMIT_MULTI_RESP,
                Body::SubmitMultiResp(Box::new(SubmitMultiResp {
                    message_id: b"m1".into(),
                    unsuccess_smes: vec![UnsuccessSme {
                        ton: 1,
                        npi: 1,
                        addr: b"447700900002".to_vec(),
                        error_status_code: ESME_RINVDSTADR,
                    }],
                })),
            ),
            p(
                DATA_SM,
                Body::DataSm(Box::new(DataSm {
                    service_type: b"WAP".into(),
                    source_addr_ton: 1,
                    source_addr_npi: 1,
                    source_addr: vec![b'1'; 64].into(),
                    dest_addr_ton: 2,
                    dest_addr_npi: 2,
                    destination_addr: vec![b'2'; 64].into(),
                    esm_class: 0,
                    registered_delivery: 1,
                    data_coding: 4,
                    tlvs: vec![Tlv::new(tlv::MESSAGE_PAYLOAD, b"data".to_vec())],
                })),
            ),
            p(
                QUERY_SM,
                Body::QuerySm(Box::new(QuerySm {
                    message_id: b"abc".into(),
                    source_addr_ton: 1,
                    source_addr_npi: 1,
                    source_addr: b"123".into(),
                })),
            ),
            p(
                QUERY_SM_RESP,
                Body::QuerySmResp(Box::new(QuerySmResp {
                    message_id: b"abc".into(),
                    final_date: b"240101120000000+".into(),
                    message_state: 2,
                    error_code: 0,
                })),
            ),
            p(
                CANCEL_SM,
                Body::CancelSm(Box::new(CancelSm {
                    service_type: vec![].into(),
                    message_id: b"abc".into(),
                    source_addr_ton: 1,
                    source_addr_npi: 1,
                    source_addr: b"1".into(),
                    dest_addr_ton: 1,
                    dest_addr_npi: 1,
                    destination_addr: b"2".into(),
                })),
            ),
            p(CANCEL_SM_RESP, Body::Empty),
            p(
                REPLACE_SM,
                Body::ReplaceSm(Box::new(ReplaceSm {
                    message_id: b"abc".into(),
                    source_addr_ton: 1,
                    source_addr_npi: 1,
                    source_addr: b"1".into(),
                    schedule_delivery_time: vec![].into(),
                    validity_period: b"000001000000000R".into(),
                    registered_delivery: 0,
                    sm_default_msg_id: 3,
                    short_message: vec![0xAA; 254].into(),
                })),
            ),
            p(REPLACE_SM_RESP, Body::Empty),
            p(
                ALERT_NOTIFICATION,
                Body::AlertNotification(Box::new(AlertNotification {
                    source_addr_ton: 1,
                    source_addr_npi: 1,
                    source_addr: b"447700900003".into(),
                    esme_addr_ton: 0,
                    esme_addr_npi: 0,
                    esme_addr: b"esme".into(),
                    tlvs: vec![Tlv::from_u8(tlv::MS_AVAILABILITY_STATUS, 0)],
                })),
            ),
        ];
        for (i, pdu) in out.iter_mut().enumerate() {
            pdu.sequence_number = i as u32 + 1;
        }
        out
    }

    #[test]
    fn every_command_has_a_sample_and_round_trips() {
        let s = samples();
        assert_eq!(COMMANDS.len(), 27);
        for (id, name) in COMMANDS {
            let pdu = s
                .iter()
                .find(|p| p.command_id == *id)
                .unwrap_or_else(|| panic!("no sample for {name}"));
            let bytes = encode(pdu).unwrap();
            assert_eq!(bytes.len(), pdu.encoded_len());
            assert_eq!(
                u32::from_be_bytes(bytes[..4].try_into().unwrap()) as usize,
                bytes.len()
            );
            assert_eq!(&decode(&bytes).unwrap(), pdu, "{name}");
        }
    }

    #[test]
    fn names_and_ids() {
        assert_eq!(command_name(SUBMIT_MULTI_RESP), Some("submit_multi_resp"));
        assert_eq!(command_id("alert_notification"), Some(0x102));
        assert_eq!(command_name(0x1234), None);
        assert!(is_response(GENERIC_NACK) && !is_response(DATA_SM));
    }

    #[test]
    fn golden_submit_sm_bytes() {
        let pdu = Pdu {
            command_id: SUBMIT_SM,
            command_status: 0,
            sequence_number: 2,
            body: Body::Sm(Box::new(Sm {
                source_addr: b"A".into(),
                destination_addr: b"12".into(),
                registered_delivery: 1,
                short_message: b"hi".into(),
                ..Sm::default()
            })),
        };
        let want: Vec<u8> = [
            &[0, 0, 0, 38, 0, 0, 0, 4, 0, 0, 0, 0, 0, 0, 0, 2][..],
            &[
                0, 0, 0, b'A', 0, 0, 0, b'1', b'2', 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 2, b'h', b'i',
            ],
        ]
        .concat();
        assert_eq!(encode(&pdu).unwrap(), want);
    }

    fn enc_err(pdu: &Pdu) -> (u32, &'static str) {
        let e = encode(pdu).unwrap_err();
        (e.status, e.field)
    }

    #[test]
    fn limits_on_encode() {
        let base = Pdu {
            command_id: SUBMIT_SM,
            command_status: 0,
            sequence_number: 1,
            body: Body::Sm(Box::new(sm())),
        };
        let with = |f: &dyn Fn(&mut Sm)| {
            let mut p = base.clone();
            if let Body::Sm(b) = &mut p.body {
                f(b)
            }
            p
        };
        assert_eq!(
            enc_err(&with(&|b| b.source_addr = vec![b'1'; 21].into())),
            (ESME_RINVSRCADR, "source_addr")
        );
        assert!(encode(&with(&|b| b.source_addr = vec![b'1'; 20].into())).is_ok());
        assert_eq!(
            enc_err(&with(&|b| b.destination_addr = vec![b'1'; 21].into())),
            (ESME_RINVDSTADR, "destination_addr")
        );
        assert_eq!(
            enc_err(&with(&|b| b.service_type = b"ABCDEF".to_vec().into())),
            (ESME_RINVSERTYP, "service_type")
        );
        assert_eq!(
            enc_err(&with(&|b| b.short_message = vec![0; 255].into())),
            (ESME_RINVMSGLEN, "short_message")
        );
        assert!(encode(&with(&|b| b.short_message = vec![0; 254].into())).is_ok());
        assert_eq!(
            enc_err(&with(&|b| b.validity_period = b"123".to_vec().into())),
            (ESME_RINVEXPIRY, "validity_period")
        );
        assert_eq!(
            enc_err(&with(&|b| b.schedule_delivery_time = vec![b'1'; 17].into())),
            (ESME_RINVSCHED, "schedule_delivery_time")
        );
        assert_eq!(
            enc_err(&with(&|b| b.source_addr = b"a\0b".to_vec().into())),
            (ESME_RINVSRCADR, "source_addr")
        );
        assert_eq!(
            enc_err(&with(&|b| b
                .tlvs
                .push(Tlv::new(tlv::MESSAGE_PAYLOAD, b"x".to_vec())))),
            (ESME_RINVMSGLEN, "short_message")
        );
        assert_eq!(
            enc_err(&with(&|b| b
                .tlvs
                .push(Tlv::new(tlv::SAR_TOTAL_SEGMENTS, vec![1, 2])))),
            (ESME_RINVPARLEN, "sar_total_segments")
        );

        let bind = |f: &dyn Fn(&mut Bind)| {
            let mut b = Bind::default();
            f(&mut b);
            Pdu {
                command_id: BIND_TRANSCEIVER,
                command_status: 0,
                sequence_number: 1,
                body: Body::Bind(Box::new(b)),
            }
        };
        assert_eq!(
            enc_err(&bind(&|b| b.system_id = vec![b'x'; 16].into())),
            (ESME_RINVSYSID, "system_id")
        );
        assert!(encode(&bind(&|b| b.system_id = vec![b'x'; 15].into())).is_ok());
        assert_eq!(
            enc_err(&bind(&|b| b.password = vec![b'x'; 9].into())),
            (ESME_RINVPASWD, "password")
        );
        assert_eq!(
            enc_err(&bind(&|b| b.system_type = vec![b'x'; 13].into())),
            (ESME_RINVSYSTYP, "system_type")
        );
        assert!(encode(&bind(&|b| b.address_range = vec![b'x'; 40].into())).is_ok());
        assert_eq!(
            enc_err(&bind(&|b| b.address_range = vec![b'x'; 41].into())).1,
            "address_range"
        );

        let resp = Pdu {
            command_id: SUBMIT_SM_RESP,
            command_status: 0,
            sequence_number: 1,
            body: Body::MessageIdResp(Box::new(MessageIdResp {
                message_id: vec![b'x'; 65].into(),
                tlvs: vec![],
            })),
        };
        assert_eq!(enc_err(&resp), (ESME_RINVMSGID, "message_id"));

        let multi = |dests: Vec<DestAddress>| Pdu {
            command_id: SUBMIT_MULTI,
            command_status: 0,
            sequence_number: 1,
            body: Body::SubmitMulti(Box::new(SubmitMulti {
                dest_addresses: dests,
                ..SubmitMulti::default()
            })),
        };
        assert_eq!(
            enc_err(&multi(vec![])),
            (ESME_RINVNUMDESTS, "dest_addresses")
        );
        let sme = DestAddress::Sme {
            ton: 1,
            npi: 1,
            addr: b"1".to_vec(),
        };
        assert!(encode(&multi(vec![sme.clone(); 254])).is_ok());
        assert_eq!(
            enc_err(&multi(vec![sme; 255])),
            (ESME_RINVNUMDESTS, "dest_addresses")
        );
        assert_eq!(
            enc_err(&multi(vec![DestAddress::DistributionList(vec![b'd'; 21])])),
            (ESME_RINVDLNAME, "dl_name")
        );

        // Body of the wrong layout, unknown command.
        let wrong = Pdu {
            command_id: SUBMIT_SM,
            command_status: 0,
            sequence_number: 1,
            body: Body::Empty,
        };
        assert!(encode(&wrong).is_err());
        assert_eq!(Pdu::new(0x42, 1).unwrap_err().status, ESME_RINVCMDID);
    }

    fn frame(command_id: u32, status: u32, body: &[u8]) -> Vec<u8> {
        let mut v = Vec::new();
        v.extend_from_slice(&((HEADER_LEN + body.len()) as u32).to_be_bytes());
        v.extend_from_slice(&command_id.to_be_bytes());
        v.extend_from_slice(&status.to_be_bytes());
        v.extend_from_slice(&9u32.to_be_bytes());
        v.extend_from_slice(body);
        v
    }

    fn dec_err(data: &[u8]) -> (u32, &'static str) {
        let e = decode(data).unwrap_err();
        (e.status, e.field)
    }

    #[test]
    fn limits_on_decode() {
        let mut good = encode(&Pdu {
            command_id: SUBMIT_SM,
            command_status: 0,
            sequence_number: 1,
            body: Body::Sm(Box::default()),
        })
        .unwrap();
        assert!(decode(&good).is_ok());
        // Header problems.
        assert_eq!(dec_err(&good[..10]), (ESME_RINVCMDLEN, "command_length"));
        assert_eq!(
            dec_err(&good[..good.len() - 1]),
            (ESME_RINVCMDLEN, "command_length")
        );
        good[7] = 0x77;
        assert_eq!(dec_err(&good), (ESME_RINVCMDID, "command_id"));

        // Too-long source_addr: 21 characters, NUL only after.
        let mut body = vec![0, 1, 1];
        body.extend_from_slice(&[b'1'; 21]);
        body.push(0);
        assert_eq!(
            dec_err(&frame(SUBMIT_SM, 0, &body)),
            (ESME_RINVSRCADR, "source_addr")
        );
        // Body cut inside the mandatory part.
        assert_eq!(
            dec_err(&frame(SUBMIT_SM, 0, &[0, 1, 1, b'1', 0, 1])),
            (ESME_RINVCMDLEN, "dest_addr_npi")
        );
        assert_eq!(
            dec_err(&frame(SUBMIT_SM, 0, &[0, 1, 1, b'1'])),
            (ESME_RINVCMDLEN, "source_addr")
        );
        // sm_length beyond 254 and beyond the PDU.
        let mut sm_body = vec![0; 16];
        sm_body.push(255);
        sm_body.extend_from_slice(&[0; 255]);
        assert_eq!(
            dec_err(&frame(SUBMIT_SM, 0, &sm_body)),
            (ESME_RINVMSGLEN, "short_message")
        );
        let mut sm_body = vec![0; 16];
        sm_body.extend_from_slice(&[10, 1, 2]);
        assert_eq!(
            dec_err(&frame(SUBMIT_SM, 0, &sm_body)),
            (ESME_RINVMSGLEN, "short_message")
        );
        // Truncated TLV area and bad TLV length.
        let mut sm_body = vec![0; 17];
        sm_body.extend_from_slice(&[0x02, 0x0C, 0x00, 0x02, 0x01]);
        assert_eq!(
            dec_err(&frame(SUBMIT_SM, 0, &sm_body)).0,
            ESME_RINVOPTPARSTREAM
        );
        let mut sm_body = vec![0; 17];
        sm_body.extend_from_slice(&[0x02, 0x0C, 0x00, 0x01, 0x01]);
        assert_eq!(
            dec_err(&frame(SUBMIT_SM, 0, &sm_body)),
            (ESME_RINVPARLEN, "sar_msg_ref_num")
        );
        // Trailing bytes where no TLVs are allowed.
        assert_eq!(
            dec_err(&frame(ENQUIRE_LINK, 0, &[0])),
            (ESME_RINVCMDLEN, "body")
        );
        assert_eq!(
            dec_err(&frame(QUERY_SM, 0, b"a\0\x01\x01b\0x")),
            (ESME_RINVCMDLEN, "body")
        );
        // Bad dest_flag, zero dests.
        let mut m = vec![0, 1, 1, b'1', 0, 1, 3];
        m.extend_from_slice(&[0; 20]);
        assert_eq!(
            dec_err(&frame(SUBMIT_MULTI, 0, &m)),
            (ESME_RINVDESTFLAG, "dest_flag")
        );
        let mut m = vec![0, 1, 1, b'1', 0, 0];
        m.extend_from_slice(&[0; 20]);
        assert_eq!(
            dec_err(&frame(SUBMIT_MULTI, 0, &m)),
            (ESME_RINVNUMDESTS, "dest_addresses")
        );
        // Bad time length, system_id too long.
        let mut t = vec![0; 10];
        t.extend_from_slice(b"12345\0");
        assert_eq!(
            dec_err(&frame(SUBMIT_SM, 0, &[&t[..], &[0; 6]].concat())),
            (ESME_RINVSCHED, "schedule_delivery_time")
        );
        let mut b = vec![b's'; 16];
        b.extend_from_slice(&[0; 7]);
        assert_eq!(
            dec_err(&frame(BIND_TRANSMITTER, 0, &b)),
            (ESME_RINVSYSID, "system_id")
        );
    }

    #[test]
    fn vendor_tolerance() {
        // Error responses without a body.
        for id in [
            SUBMIT_SM_RESP,
            DATA_SM_RESP,
            BIND_TRANSCEIVER_RESP,
            SUBMIT_MULTI_RESP,
            QUERY_SM_RESP,
        ] {
            let p = decode(&frame(id, ESME_RTHROTTLED, &[])).unwrap();
            assert_eq!(p.body, Body::for_command(id).unwrap());
            assert_eq!(p.command_status, ESME_RTHROTTLED);
        }
        // ... but a successful submit_sm_resp needs its message_id.
        assert_eq!(
            dec_err(&frame(SUBMIT_SM_RESP, 0, &[])),
            (ESME_RINVCMDLEN, "message_id")
        );
        // deliver_sm_resp may omit the unused message_id even on success.
        assert!(decode(&frame(DELIVER_SM_RESP, 0, &[])).is_ok());
        // message_id / system_id without NUL at the end of the PDU.
        let p = decode(&frame(SUBMIT_SM_RESP, 0, b"abc123")).unwrap();
        assert_eq!(p.body.get("message_id"), Some(FieldRef::Str(b"abc123")));
        let p = decode(&frame(BIND_TRANSMITTER_RESP, 0, b"SMSC")).unwrap();
        assert_eq!(p.body.get("system_id"), Some(FieldRef::Str(b"SMSC")));
        // The NUL is only optional at the very end, and within the limit.
        assert_eq!(
            dec_err(&frame(SUBMIT_SM_RESP, 0, &[b'x'; 65])),
            (ESME_RINVMSGID, "message_id")
        );
        assert_eq!(
            dec_err(&frame(QUERY_SM, 0, b"abc")),
            (ESME_RINVCMDLEN, "message_id")
        );
        // spec 4.4.2: an error submit_sm_resp is sent without a body.
        let nack = Pdu {
            command_status: ESME_RTHROTTLED,
            ..Pdu::new(SUBMIT_SM_RESP, 3).unwrap()
        };
        assert_eq!(encode(&nack).unwrap().len(), HEADER_LEN);
        // Receipted id TLV without NUL is kept byte for byte.
        let mut sm_body = vec![0; 17];
        sm_body.extend_from_slice(&[0x00, 0x1E, 0x00, 0x03, b'a', b'b', b'c']);
        let raw = frame(DELIVER_SM, 0, &sm_body);
        let p = decode(&raw).unwrap();
        assert_eq!(p.body.tlvs()[0].as_cstr(), b"abc");
        assert_eq!(encode(&p).unwrap(), raw);
    }

    #[test]
    fn field_access_by_name() {
        let mut b = Body::Sm(Box::new(sm()));
        assert_eq!(b.get("source_addr"), Some(FieldRef::Str(b"byosms")));
        assert_eq!(b.get("data_coding"), Some(FieldRef::Int(8)));
        assert_eq!(b.get("message_id"), None);
        assert_eq!(b.kind("short_message"), Some(FieldKind::ShortMessage));
        b.set("data_coding", FieldValue::Int(3)).unwrap();
        assert_eq!(b.get("data_coding"), Some(FieldRef::Int(3)));
        assert!(matches!(
            b.set("data_coding", FieldValue::Int(256)),
            Err(SetError::Value(_))
        ));
        assert!(matches!(
            b.set("data_coding", FieldValue::Bytes(vec![])),
            Err(SetError::Type(_))
        ));
        assert_eq!(
            b.set("password", FieldValue::Int(1)),
            Err(SetError::NoField)
        );
        assert_eq!(Body::Empty.fields().len(), 0);
        assert_eq!(b.fields().len(), 17);
        assert!(b.takes_tlvs() && !Body::QuerySm(Box::default()).takes_tlvs());
    }

    /// Cheap deterministic garbage: decode must return, never panic, and what
    /// decodes must re-encode to something that decodes the same.
    #[test]
    fn garbage_never_panics() {
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut next = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let samples = samples();
        for round in 0..20_000 {
            let mut data = encode(&samples[round % samples.len()]).unwrap();
            let flips = 1 + next() % 4;
            for _ in 0..flips {
                let i = (next() as usize) % data.len();
                data[i] = next() as u8;
            }
            if next() % 4 == 0 {
                let cut = (next() as usize) % data.len();
                data.truncate(cut);
            }
            let n = data.len() as u32;
            if data.len() >= 4 && next() % 2 == 0 {
                data[..4].copy_from_slice(&n.to_be_bytes());
            }
            if let Ok(p) = decode(&data) {
                let again = encode(&p).expect("decoded PDU must re-encode");
                assert_eq!(decode(&again).unwrap(), p);
            }
        }
    }
}
