//! SMPP 3.4 optional parameters (TLVs, spec section 5.3).
//!
//! A TLV is kept as its raw tag and value bytes so that whatever a peer sent
//! is re-encoded byte for byte: vendor tags (0x1400-0x3FFF) and tags this
//! table does not know pass through untouched and in order. Known tags are
//! only checked for the value length the spec gives them; interpreting the
//! value (`as_int`, `as_str`) is left to the caller.

use crate::bytes::SmallBytes;
use crate::error::{CodecError, Result};
use crate::status::{ESME_RINVOPTPARSTREAM, ESME_RINVPARLEN};

/// Size of a TLV's tag and length fields (spec 3.2.4.1).
pub const TLV_HEADER_LEN: usize = 4;

/// The length field is 16 bits (spec 3.2.4.1), which bounds every value,
/// message_payload included.
pub const TLV_VALUE_MAX: usize = u16::MAX as usize;

/// First and last tag of the vendor-specific range (spec 5.3.2).
pub const VENDOR_TAG_FIRST: u16 = 0x1400;
pub const VENDOR_TAG_LAST: u16 = 0x3FFF;

/// The value layout the spec gives a known tag. Lengths are octets on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TlvKind {
    /// Unsigned big-endian integer of exactly 1, 2 or 4 octets.
    Int1,
    Int2,
    Int4,
    /// Unsigned big-endian integer of `min..=max` octets.
    IntVar {
        min: u16,
        max: u16,
    },
    /// C-Octet string of at most `max` octets including the NUL.
    /// Vendors often leave the NUL off (receipted_message_id above all), so a
    /// missing NUL is accepted; the bytes are kept as sent.
    COctet {
        max: u16,
    },
    /// Opaque octets, between `min` and `max` long.
    Octets {
        min: u16,
        max: u16,
    },
    /// No value at all: the tag's presence is the information
    /// (alert_on_message_delivery).
    Flag,
}

/// One entry of the standard tag table.
#[derive(Debug, Clone, Copy)]
pub struct TlvSpec {
    pub tag: u16,
    pub name: &'static str,
    pub kind: TlvKind,
}

macro_rules! tlv_table {
    ($($const:ident = $tag:expr, $name:literal, $kind:expr;)*) => {
        $(pub const $const: u16 = $tag;)*
        /// Every standard optional parameter of SMPP 3.4 (spec 5.3.2), sorted by tag.
        pub const ALL: &[TlvSpec] = &[$(TlvSpec { tag: $tag, name: $name, kind: $kind }),*];

        /// The table entry of a standard tag, None for vendor and unknown
        /// tags. A match rather than a search: it runs for every TLV decoded.
        pub fn spec(tag: u16) -> Option<&'static TlvSpec> {
            match tag {
                $($tag => Some(&TlvSpec { tag: $tag, name: $name, kind: $kind }),)*
                _ => None,
            }
        }
    };
}

use TlvKind::*;

tlv_table! {
    DEST_ADDR_SUBUNIT = 0x0005, "dest_addr_subunit", Int1;
    DEST_NETWORK_TYPE = 0x0006, "dest_network_type", Int1;
    DEST_BEARER_TYPE = 0x0007, "dest_bearer_type", Int1;
    DEST_TELEMATICS_ID = 0x0008, "dest_telematics_id", Int2;
    SOURCE_ADDR_SUBUNIT = 0x000D, "source_addr_subunit", Int1;
    SOURCE_NETWORK_TYPE = 0x000E, "source_network_type", Int1;
    SOURCE_BEARER_TYPE = 0x000F, "source_bearer_type", Int1;
    // Printings of the 3.4 spec disagree on 1 or 2 octets (SMPP 5.0 says 2);
    // peers send either, so both lengths are accepted.
    SOURCE_TELEMATICS_ID = 0x0010, "source_telematics_id", IntVar { min: 1, max: 2 };
    QOS_TIME_TO_LIVE = 0x0017, "qos_time_to_live", Int4;
    PAYLOAD_TYPE = 0x0019, "payload_type", Int1;
    ADDITIONAL_STATUS_INFO_TEXT = 0x001D, "additional_status_info_text", COctet { max: 256 };
    RECEIPTED_MESSAGE_ID = 0x001E, "receipted_message_id", COctet { max: 65 };
    MS_MSG_WAIT_FACILITIES = 0x0030, "ms_msg_wait_facilities", Int1;
    PRIVACY_INDICATOR = 0x0201, "privacy_indicator", Int1;
    SOURCE_SUBADDRESS = 0x0202, "source_subaddress", Octets { min: 2, max: 23 };
    DEST_SUBADDRESS = 0x0203, "dest_subaddress", Octets { min: 2, max: 23 };
    USER_MESSAGE_REFERENCE = 0x0204, "user_message_reference", Int2;
    USER_RESPONSE_CODE = 0x0205, "user_response_code", Int1;
    SOURCE_PORT = 0x020A, "source_port", Int2;
    DESTINATION_PORT = 0x020B, "destination_port", Int2;
    SAR_MSG_REF_NUM = 0x020C, "sar_msg_ref_num", Int2;
    LANGUAGE_INDICATOR = 0x020D, "language_indicator", Int1;
    SAR_TOTAL_SEGMENTS = 0x020E, "sar_total_segments", Int1;
    SAR_SEGMENT_SEQNUM = 0x020F, "sar_segment_seqnum", Int1;
    SC_INTERFACE_VERSION = 0x0210, "sc_interface_version", Int1;
    CALLBACK_NUM_PRES_IND = 0x0302, "callback_num_pres_ind", Int1;
    CALLBACK_NUM_ATAG = 0x0303, "callback_num_atag", Octets { min: 0, max: 65 };
    NUMBER_OF_MESSAGES = 0x0304, "number_of_messages", Int1;
    CALLBACK_NUM = 0x0381, "callback_num", Octets { min: 4, max: 19 };
    DPF_RESULT = 0x0420, "dpf_result", Int1;
    SET_DPF = 0x0421, "set_dpf", Int1;
    MS_AVAILABILITY_STATUS = 0x0422, "ms_availability_status", Int1;
    NETWORK_ERROR_CODE = 0x0423, "network_error_code", Octets { min: 3, max: 3 };
    MESSAGE_PAYLOAD = 0x0424, "message_payload", Octets { min: 0, max: u16::MAX };
    DELIVERY_FAILURE_REASON = 0x0425, "delivery_failure_reason", Int1;
    MORE_MESSAGES_TO_SEND = 0x0426, "more_messages_to_send", Int1;
    MESSAGE_STATE = 0x0427, "message_state", Int1;
    USSD_SERVICE_OP = 0x0501, "ussd_service_op", Int1;
    DISPLAY_TIME = 0x1201, "display_time", Int1;
    SMS_SIGNAL = 0x1203, "sms_signal", Int2;
    MS_VALIDITY = 0x1204, "ms_validity", Int1;
    ALERT_ON_MESSAGE_DELIVERY = 0x130C, "alert_on_message_delivery", Flag;
    ITS_REPLY_TYPE = 0x1380, "its_reply_type", Int1;
    ITS_SESSION_INFO = 0x1383, "its_session_info", Int2;
}

/// The spec name of a standard tag.
pub fn name(tag: u16) -> Option<&'static str> {
    spec(tag).map(|s| s.name)
}

pub fn is_vendor(tag: u16) -> bool {
    (VENDOR_TAG_FIRST..=VENDOR_TAG_LAST).contains(&tag)
}

/// Inline capacity of a TLV value: every integer tag, and the C-Octet
/// strings of the usual length (receipted_message_id of up to 30 characters,
/// spec 5.3.2.12); message_payload and longer values live on the heap.
pub const TLV_INLINE: usize = 30;

/// A TLV's value octets.
pub type TlvValue = SmallBytes<TLV_INLINE>;

/// One optional parameter, exactly as on the wire.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Tlv {
    pub tag: u16,
    pub value: TlvValue,
}

impl Tlv {
    pub fn new(tag: u16, value: impl Into<TlvValue>) -> Self {
        Tlv {
            tag,
            value: value.into(),
        }
    }

    pub fn from_u8(tag: u16, v: u8) -> Self {
        Tlv::new(tag, [v])
    }

    pub fn from_u16(tag: u16, v: u16) -> Self {
        Tlv::new(tag, v.to_be_bytes())
    }

    pub fn from_u32(tag: u16, v: u32) -> Self {
        Tlv::new(tag, v.to_be_bytes())
    }

    /// A C-Octet string TLV, NUL appended as the spec wants.
    pub fn from_cstr(tag: u16, s: &[u8]) -> Self {
        let mut v = Vec::with_capacity(s.len() + 1);
        v.extend_from_slice(s);
        v.push(0);
        Tlv::new(tag, v)
    }

    pub fn name(&self) -> Option<&'static str> {
        name(self.tag)
    }

    /// The value as a big-endian unsigned integer: for standard integer
    /// tags, and for other tags whose value is 1 to 4 octets (vendor
    /// integers); None for standard string / octet tags and other lengths.
    pub fn as_int(&self) -> Option<u32> {
        if spec(self.tag).is_some_and(|s| !matches!(s.kind, Int1 | Int2 | Int4 | IntVar { .. })) {
            return None;
        }
        match self.value.len() {
            1..=4 => Some(
                self.value
                    .iter()
                    .fold(0u32, |acc, b| (acc << 8) | u32::from(*b)),
            ),
            _ => None,
        }
    }

    /// The value up to its first NUL (or whole, when the peer left the NUL off).
    pub fn as_cstr(&self) -> &[u8] {
        match self.value.iter().position(|&b| b == 0) {
            Some(n) => &self.value[..n],
            None => &self.value,
        }
    }

    /// Checks a known tag's value length against the spec; other tags only
    /// need to fit the 16-bit length field.
    pub fn validate(&self) -> Result<()> {
        let len = self.value.len();
        let spec = spec(self.tag);
        if len > TLV_VALUE_MAX {
            return Err(CodecError::new(
                ESME_RINVPARLEN,
                spec.map_or("tlvs", |s| s.name),
                format!(
                    "TLV 0x{:04X} value is {len} octets, over the 16-bit length field",
                    self.tag
                ),
            ));
        }
        let Some(spec) = spec else { return Ok(()) };
        let (min, max) = match spec.kind {
            Int1 => (1, 1),
            Int2 => (2, 2),
            Int4 => (4, 4),
            COctet { max } => (1, usize::from(max)),
            IntVar { min, max } | Octets { min, max } => (usize::from(min), usize::from(max)),
            Flag => (0, 0),
        };
        if len < min || len > max {
            let want = if min == max {
                format!("{min}")
            } else {
                format!("{min}..={max}")
            };
            return Err(CodecError::new(
                ESME_RINVPARLEN,
                spec.name,
                format!(
                    "{} (0x{:04X}) must be {want} octets, got {len}",
                    spec.name, self.tag
                ),
            ));
        }
        Ok(())
    }
}

/// Decodes a TLV area (everything after a PDU's mandatory fields), in order.
/// A truncated header or a length running past the end of the PDU is
/// ESME_RINVOPTPARSTREAM; a known tag with the wrong length is ESME_RINVPARLEN.
pub fn decode_area(mut data: &[u8], out: &mut Vec<Tlv>) -> Result<()> {
    if data.is_empty() {
        return Ok(());
    }
    // One exact allocation instead of growing: count the well-framed TLVs
    // first (a header walk, no copies).
    let mut count = 0;
    let mut walk = data;
    while let Some((head, rest)) = walk.split_first_chunk::<TLV_HEADER_LEN>() {
        let len = usize::from(u16::from_be_bytes([head[2], head[3]]));
        count += 1;
        walk = rest.get(len..).unwrap_or(&[]);
    }
    out.reserve_exact(count);
    while !data.is_empty() {
        let Some((head, rest)) = data.split_first_chunk::<TLV_HEADER_LEN>() else {
            return Err(CodecError::new(
                ESME_RINVOPTPARSTREAM,
                "tlvs",
                format!("{} trailing octets cannot hold a TLV header", data.len()),
            ));
        };
        let tag = u16::from_be_bytes([head[0], head[1]]);
        let len = usize::from(u16::from_be_bytes([head[2], head[3]]));
        let Some(value) = rest.get(..len) else {
            return Err(CodecError::new(
                ESME_RINVOPTPARSTREAM,
                name(tag).unwrap_or("tlvs"),
                format!(
                    "TLV 0x{tag:04X} claims {len} octets, only {} left",
                    rest.len()
                ),
            ));
        };
        let tlv = Tlv {
            tag,
            value: value.into(),
        };
        tlv.validate()?;
        out.push(tlv);
        data = &rest[len..];
    }
    Ok(())
}

/// Encoded size of a list of TLVs.
pub fn encoded_len(tlvs: &[Tlv]) -> usize {
    tlvs.iter().map(|t| TLV_HEADER_LEN + t.value.len()).sum()
}

/// Appends TLVs after validating each one.
pub fn encode_area(tlvs: &[Tlv], out: &mut Vec<u8>) -> Result<()> {
    for t in tlvs {
        t.validate()?;
        out.extend_from_slice(&t.tag.to_be_bytes());
        // validate() bounded the length to 16 bits.
        out.extend_from_slice(&(t.value.len() as u16).to_be_bytes());
        out.extend_from_slice(&t.value);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_is_sorted_unique_and_complete() {
        assert!(ALL.windows(2).all(|w| w[0].tag < w[1].tag));
        for s in ALL {
            let found = spec(s.tag).unwrap();
            assert_eq!((found.tag, found.name, found.kind), (s.tag, s.name, s.kind));
        }
        assert_eq!(ALL.len(), 44);
        assert_eq!(name(0x0424), Some("message_payload"));
        assert_eq!(name(0x001E), Some("receipted_message_id"));
        assert_eq!(name(0x1383), Some("its_session_info"));
        assert_eq!(name(0x1400), None);
        assert!(is_vendor(0x1400) && is_vendor(0x3FFF) && !is_vendor(0x4000));
    }

    #[test]
    fn area_round_trip_keeps_unknown_and_order() {
        let tlvs = vec![
            Tlv::new(0x3FFF, b"vendor".to_vec()),
            Tlv::from_u16(SAR_MSG_REF_NUM, 0xBEEF),
            Tlv::new(0x0000, vec![]),
            Tlv::from_cstr(RECEIPTED_MESSAGE_ID, b"abc"),
            Tlv::new(ALERT_ON_MESSAGE_DELIVERY, vec![]),
        ];
        let mut buf = Vec::new();
        encode_area(&tlvs, &mut buf).unwrap();
        assert_eq!(buf.len(), encoded_len(&tlvs));
        let mut back = Vec::new();
        decode_area(&buf, &mut back).unwrap();
        assert_eq!(back, tlvs);
        assert_eq!(back[1].as_int(), Some(0xBEEF));
        assert_eq!(back[0].as_int(), None);
        assert_eq!(back[3].as_int(), None);
        assert_eq!(Tlv::new(0x1400, vec![1, 2]).as_int(), Some(0x0102));
        assert_eq!(back[3].as_cstr(), b"abc");
    }

    #[test]
    fn known_tag_lengths_are_checked() {
        let e = Tlv::new(SAR_MSG_REF_NUM, vec![1]).validate().unwrap_err();
        assert_eq!((e.status, e.field), (ESME_RINVPARLEN, "sar_msg_ref_num"));
        let e = Tlv::new(NETWORK_ERROR_CODE, vec![1, 2])
            .validate()
            .unwrap_err();
        assert_eq!(e.field, "network_error_code");
        assert!(Tlv::new(RECEIPTED_MESSAGE_ID, vec![b'x'; 65])
            .validate()
            .is_ok());
        assert!(Tlv::new(RECEIPTED_MESSAGE_ID, vec![b'x'; 66])
            .validate()
            .is_err());
        assert!(Tlv::new(RECEIPTED_MESSAGE_ID, vec![]).validate().is_err());
        assert!(Tlv::new(ALERT_ON_MESSAGE_DELIVERY, vec![1])
            .validate()
            .is_err());
        assert!(Tlv::new(SOURCE_TELEMATICS_ID, vec![1]).validate().is_ok());
        assert!(Tlv::new(0x1401, vec![0; 70_000]).validate().is_err());
    }

    #[test]
    fn truncated_areas() {
        let mut out = Vec::new();
        for bad in [&[0x02u8, 0x0C, 0x00][..], &[0x02, 0x0C, 0x00, 0x02, 0x01]] {
            let e = decode_area(bad, &mut out).unwrap_err();
            assert_eq!(e.status, ESME_RINVOPTPARSTREAM);
        }
    }

    #[test]
    fn as_int_widths() {
        assert_eq!(Tlv::new(1, vec![]).as_int(), None);
        assert_eq!(Tlv::new(1, vec![1, 2, 3]).as_int(), Some(0x010203));
        assert_eq!(Tlv::from_u32(1, u32::MAX).as_int(), Some(u32::MAX));
        assert_eq!(Tlv::new(1, vec![0; 5]).as_int(), None);
    }
}
