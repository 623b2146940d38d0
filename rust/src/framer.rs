//! Sans-I/O stream framer: bytes from a socket in any split, complete PDUs out.
//!
//! Two kinds of trouble, handled differently:
//! - a command_length that cannot be right (under 16 or over the maximum)
//!   means the stream has lost its framing: the error is fatal, the framer
//!   refuses further input, and the session must answer generic_nack and
//!   close;
//! - a well-framed PDU whose body does not decode is skipped: the caller
//!   gets an error item with the command_id, sequence_number and the status
//!   to answer with, and the stream goes on.

use crate::error::{CodecError, Result};
use crate::pdu::{self, Header, Pdu, HEADER_LEN};
use crate::status::ESME_RINVCMDLEN;

/// Default ceiling on command_length. SMPP 3.4 sets none (spec 3.2); the
/// largest legitimate PDU is a data_sm / submit_sm whose message_payload
/// (16-bit length, spec 5.3.2.32) SMSCs cap far below 64 KiB in practice.
/// Bounding it keeps one peer from making a bind buffer unbounded data.
pub const DEFAULT_MAX_COMMAND_LENGTH: u32 = 64 * 1024;

/// Consumed input is compacted away once it exceeds this many octets, so
/// pulling frames one by one stays linear.
const COMPACT_THRESHOLD: usize = 64 * 1024;

/// Why a frame could not be turned into a PDU.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FrameError {
    /// From the header, when at least 8 octets of it were there.
    pub command_id: Option<u32>,
    /// From the header, when all 16 octets of it were there.
    pub sequence_number: Option<u32>,
    /// Carries the command_status to answer with and the field at fault.
    pub error: CodecError,
    /// The stream cannot be resynchronised: answer generic_nack and close.
    pub fatal: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    Pdu(Pdu),
    Error(FrameError),
}

enum Step {
    NeedMore,
    Frame(Frame, usize),
    Fatal(FrameError),
}

fn word(data: &[u8], at: usize) -> Option<u32> {
    data.get(at..at + 4)
        .map(|w| u32::from_be_bytes([w[0], w[1], w[2], w[3]]))
}

/// Looks at the start of `data` for one frame.
fn step(data: &[u8], max_command_length: u32) -> Step {
    let Some(len) = word(data, 0) else {
        return Step::NeedMore;
    };
    if (len as usize) < HEADER_LEN || len > max_command_length {
        let why = if (len as usize) < HEADER_LEN {
            format!("command_length {len} is shorter than the {HEADER_LEN}-octet header")
        } else {
            format!("command_length {len} exceeds the maximum of {max_command_length}")
        };
        return Step::Fatal(FrameError {
            command_id: word(data, 4),
            sequence_number: word(data, 12),
            error: CodecError::new(ESME_RINVCMDLEN, "command_length", why),
            fatal: true,
        });
    }
    let len = len as usize;
    let Some(frame) = data.get(..len) else {
        return Step::NeedMore;
    };
    // len >= HEADER_LEN, so the header is there.
    let Some(h) = Header::parse(frame) else {
        return Step::NeedMore;
    };
    let item = match pdu::decode_body(&h, &frame[HEADER_LEN..]) {
        Ok(p) => Frame::Pdu(p),
        Err(error) => Frame::Error(FrameError {
            command_id: Some(h.command_id),
            sequence_number: Some(h.sequence_number),
            error,
            fatal: false,
        }),
    };
    Step::Frame(item, len)
}

/// Decodes every complete frame at the start of `data` into `out` and
/// returns how many octets were consumed; stops after a fatal error (which
/// is pushed to `out` and whose octets are not consumed).
pub fn decode_all(data: &[u8], max_command_length: u32, out: &mut Vec<Frame>) -> (usize, bool) {
    let mut pos = 0;
    loop {
        match step(&data[pos..], max_command_length) {
            Step::NeedMore => return (pos, false),
            Step::Frame(f, n) => {
                out.push(f);
                pos += n;
            }
            Step::Fatal(e) => {
                out.push(Frame::Error(e));
                return (pos, true);
            }
        }
    }
}

/// Buffers a byte stream and yields the PDUs in it.
#[derive(Debug, Clone)]
pub struct Framer {
    buf: Vec<u8>,
    start: usize,
    max_command_length: u32,
    failed: Option<CodecError>,
}

impl Default for Framer {
    fn default() -> Self {
        Framer::new(DEFAULT_MAX_COMMAND_LENGTH)
    }
}

impl Framer {
    /// `max_command_length` below the 16-octet header is raised to it.
    pub fn new(max_command_length: u32) -> Self {
        Framer {
            buf: Vec::new(),
            start: 0,
            max_command_length: max_command_length.max(HEADER_LEN as u32),
            failed: None,
        }
    }

    pub fn max_command_length(&self) -> u32 {
        self.max_command_length
    }

    /// Octets received but not yet part of a returned frame.
    pub fn buffered(&self) -> &[u8] {
        &self.buf[self.start..]
    }

    /// The fatal error, once one happened.
    pub fn failure(&self) -> Option<&CodecError> {
        self.failed.as_ref()
    }

    fn refuse(&self) -> Result<()> {
        match &self.failed {
            Some(e) => Err(CodecError::new(
                e.status,
                e.field,
                format!("framer stopped after a fatal error: {}", e.message),
            )),
            None => Ok(()),
        }
    }

    /// Adds received octets. Refused after a fatal error.
    pub fn feed(&mut self, data: &[u8]) -> Result<()> {
        self.refuse()?;
        if self.start == self.buf.len() {
            self.buf.clear();
            self.start = 0;
        } else if self.start >= COMPACT_THRESHOLD {
            self.buf.drain(..self.start);
            self.start = 0;
        }
        self.buf.extend_from_slice(data);
        Ok(())
    }

    /// The next complete frame, if any. After a fatal error item, always None.
    pub fn next_frame(&mut self) -> Option<Frame> {
        if self.failed.is_some() {
            return None;
        }
        match step(&self.buf[self.start..], self.max_command_length) {
            Step::NeedMore => None,
            Step::Frame(f, n) => {
                self.start += n;
                Some(f)
            }
            Step::Fatal(e) => {
                self.failed = Some(e.error.clone());
                Some(Frame::Error(e))
            }
        }
    }

    /// Feeds `data` and decodes every complete frame into `out`: the hot path,
    /// one call per socket read. When nothing is pending, frames are decoded
    /// straight from `data` and only an incomplete tail is copied.
    pub fn feed_all(&mut self, data: &[u8], out: &mut Vec<Frame>) -> Result<()> {
        self.refuse()?;
        let (consumed, fatal) = if self.start == self.buf.len() {
            self.buf.clear();
            self.start = 0;
            let (n, fatal) = decode_all(data, self.max_command_length, out);
            self.buf.extend_from_slice(&data[n..]);
            (0, fatal)
        } else {
            self.feed(data)?;
            decode_all(&self.buf[self.start..], self.max_command_length, out)
        };
        self.start += consumed;
        if fatal {
            if let Some(Frame::Error(e)) = out.last() {
                self.failed = Some(e.error.clone());
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pdu::*;
    use crate::status::*;
    use crate::tlv::Tlv;

    fn stream() -> (Vec<u8>, Vec<Pdu>) {
        let mut pdus = Vec::new();
        for i in 0..50u32 {
            let mut p = Pdu::new(if i % 3 == 0 { ENQUIRE_LINK } else { SUBMIT_SM }, i + 1).unwrap();
            if let Body::Sm(b) = &mut p.body {
                b.source_addr = format!("src{i}").into_bytes().into();
                b.destination_addr = b"447700900123".to_vec().into();
                b.short_message = vec![b'a'; (i as usize * 7) % 200].into();
                b.tlvs.push(Tlv::new(0x1500, vec![i as u8; i as usize % 5]));
            }
            pdus.push(p);
        }
        let mut bytes = Vec::new();
        for p in &pdus {
            encode_into(p, &mut bytes).unwrap();
        }
        (bytes, pdus)
    }

    fn pdus_of(frames: Vec<Frame>) -> Vec<Pdu> {
        frames
            .into_iter()
            .map(|f| match f {
                Frame::Pdu(p) => p,
                Frame::Error(e) => panic!("unexpected error {e:?}"),
            })
            .collect()
    }

    #[test]
    fn any_split_gives_the_same_pdus() {
        let (bytes, pdus) = stream();
        for chunk in [1, 2, 3, 7, 16, 17, 100, 1000, bytes.len()] {
            let mut f = Framer::default();
            let mut out = Vec::new();
            for c in bytes.chunks(chunk) {
                f.feed_all(c, &mut out).unwrap();
            }
            assert_eq!(pdus_of(out), pdus, "chunk {chunk}");
            assert!(f.buffered().is_empty());
            // The one-at-a-time API agrees.
            let mut f = Framer::default();
            let mut got = Vec::new();
            for c in bytes.chunks(chunk) {
                f.feed(c).unwrap();
                while let Some(fr) = f.next_frame() {
                    got.push(fr);
                }
            }
            assert_eq!(pdus_of(got), pdus);
        }
    }

    #[test]
    fn partial_frame_stays_buffered() {
        let (bytes, pdus) = stream();
        let mut f = Framer::default();
        let mut out = Vec::new();
        f.feed_all(&bytes[..bytes.len() - 3], &mut out).unwrap();
        assert_eq!(out.len(), pdus.len() - 1);
        assert_eq!(
            f.buffered().len(),
            encode(&pdus[pdus.len() - 1]).unwrap().len() - 3
        );
        f.feed_all(&bytes[bytes.len() - 3..], &mut out).unwrap();
        assert_eq!(pdus_of(out), pdus);
    }

    #[test]
    fn bad_length_is_fatal_and_sticky() {
        let (bytes, _) = stream();
        let first = u32::from_be_bytes(bytes[..4].try_into().unwrap()) as usize;
        let mut data = bytes[..first].to_vec();
        // command_length 8, a readable header after it.
        data.extend_from_slice(&[0, 0, 0, 8, 0, 0, 0, 4, 0, 0, 0, 0, 0, 0, 0, 99]);
        let mut f = Framer::default();
        let mut out = Vec::new();
        f.feed_all(&data, &mut out).unwrap();
        assert_eq!(out.len(), 2);
        assert!(matches!(out[0], Frame::Pdu(_)));
        let Frame::Error(e) = &out[1] else { panic!() };
        assert!(e.fatal);
        assert_eq!(
            (e.error.status, e.error.field),
            (ESME_RINVCMDLEN, "command_length")
        );
        assert_eq!(
            (e.command_id, e.sequence_number),
            (Some(SUBMIT_SM), Some(99))
        );
        assert_eq!(f.feed(b"more").unwrap_err().status, ESME_RINVCMDLEN);
        assert!(f.feed_all(b"more", &mut out).is_err());
        assert!(f.next_frame().is_none());

        // Over the maximum, seen as soon as the length arrives.
        let mut f = Framer::new(1024);
        let mut out = Vec::new();
        f.feed_all(&[0, 0, 0x04, 0x01], &mut out).unwrap();
        let Frame::Error(e) = &out[0] else { panic!() };
        assert!(e.fatal && e.command_id.is_none() && e.sequence_number.is_none());
        // One-at-a-time path.
        let mut f = Framer::new(1024);
        f.feed(&[0, 0, 0, 0]).unwrap();
        assert!(matches!(
            f.next_frame(),
            Some(Frame::Error(FrameError { fatal: true, .. }))
        ));
        assert!(f.next_frame().is_none());
        assert!(f.failure().is_some());
    }

    #[test]
    fn bad_body_is_not_fatal() {
        let mut data = Vec::new();
        // Unknown command id, then a submit_sm with a 30-char source_addr.
        data.extend_from_slice(&[0, 0, 0, 16, 0, 0, 0, 0x77, 0, 0, 0, 0, 0, 0, 0, 5]);
        let mut body = vec![0, 1, 1];
        body.extend_from_slice(&[b'9'; 30]);
        body.push(0);
        data.extend_from_slice(&((16 + body.len()) as u32).to_be_bytes());
        data.extend_from_slice(&[0, 0, 0, 4, 0, 0, 0, 0, 0, 0, 0, 6]);
        data.extend_from_slice(&body);
        encode_into(&Pdu::new(ENQUIRE_LINK, 7).unwrap(), &mut data).unwrap();
        let mut f = Framer::default();
        let mut out = Vec::new();
        for b in &data {
            f.feed_all(std::slice::from_ref(b), &mut out).unwrap();
        }
        assert_eq!(out.len(), 3);
        let Frame::Error(e) = &out[0] else { panic!() };
        assert_eq!(
            (e.fatal, e.command_id, e.sequence_number, e.error.status),
            (false, Some(0x77), Some(5), ESME_RINVCMDID)
        );
        let Frame::Error(e) = &out[1] else { panic!() };
        assert_eq!(
            (e.fatal, e.sequence_number, e.error.status, e.error.field),
            (false, Some(6), ESME_RINVSRCADR, "source_addr")
        );
        assert!(matches!(&out[2], Frame::Pdu(p) if p.sequence_number == 7));
    }

    #[test]
    fn garbage_in_random_splits_never_panics() {
        let mut x: u64 = 0x2545_F491_4F6C_DD1D;
        let mut next = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let (good, _) = stream();
        for _ in 0..300 {
            let mut data = good.clone();
            for _ in 0..(next() % 8) {
                let i = next() as usize % data.len();
                data[i] = next() as u8;
            }
            let mut f = Framer::new(4096);
            let mut out = Vec::new();
            let mut rest = &data[..];
            while !rest.is_empty() {
                let n = (1 + next() as usize % 64).min(rest.len());
                if f.feed_all(&rest[..n], &mut out).is_err() {
                    break;
                }
                rest = &rest[n..];
            }
            // Everything that decoded re-encodes and decodes the same.
            for fr in &out {
                if let Frame::Pdu(p) = fr {
                    assert_eq!(&decode(&encode(p).unwrap()).unwrap(), p);
                }
            }
        }
    }
}
