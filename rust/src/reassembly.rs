//! Inbound concatenated messages: the User Data Header (TS 23.040 9.2.3.24)
//! and a sans-I/O reassembler for parts arriving by UDH or by SAR TLVs.
//!
//! The reassembler keeps no clock: the caller passes `now_ms` with each part
//! and calls `expire` to collect groups that waited too long.

use std::collections::{BTreeMap, HashMap, VecDeque};

use crate::charsets::{Chain, DcsAlphabet, GsmDecode};
use crate::error::{CodecError, Result};
use crate::gsm::Alphabet;
use crate::segment::{
    fill_bits_after, IEI_CONCAT_16, IEI_CONCAT_8, IEI_NATIONAL_LOCKING, IEI_NATIONAL_SINGLE,
};
use crate::status;

/// IEI 0x04 / 0x05: application port addressing, 8-bit / 16-bit (TS 23.040 9.2.3.24.3/4).
pub const IEI_PORTS_8: u8 = 0x04;
pub const IEI_PORTS_16: u8 = 0x05;

/// Pending groups kept before the oldest is evicted: bounds memory against
/// senders that never finish their messages.
pub const DEFAULT_MAX_PENDING: usize = 10_000;

/// A parsed User Data Header.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Udh {
    /// Octets of the header including the UDHL octet itself; the payload
    /// starts here.
    pub header_length: usize,
    /// (reference, total, seq) from IEI 0x00 or 0x08 (the last one wins,
    /// TS 23.040 9.2.3.24: a repeated IE overrides the earlier one).
    pub concat: Option<(u16, u8, u8)>,
    /// 8 or 16: which concatenation IE was used.
    pub reference_bits: Option<u8>,
    pub national_single: Option<u8>,
    pub national_locking: Option<u8>,
    /// (destination port, originator port).
    pub ports: Option<(u16, u16)>,
    /// Every IE in order (known ones too), as (IEI, data).
    pub elements: Vec<(u8, Vec<u8>)>,
}

impl Udh {
    /// Fill bits before the first septet when the payload is packed GSM.
    pub fn fill_bits(&self) -> u8 {
        fill_bits_after(self.header_length)
    }
}

fn malformed(msg: String) -> CodecError {
    CodecError::new(
        status::ESME_RX_P_APPN,
        "short_message",
        format!("malformed UDH: {msg}"),
    )
}

/// Parses the UDH at the start of a short message (esm_class UDHI set).
/// Anything inconsistent is an error, never a panic.
pub fn parse_udh(sm: &[u8]) -> Result<Udh> {
    let Some(&udhl) = sm.first() else {
        return Err(malformed("UDHI is set but short_message is empty".into()));
    };
    let end = 1 + udhl as usize;
    let Some(body) = sm.get(1..end) else {
        return Err(malformed(format!(
            "UDHL {udhl} exceeds the {} octets that follow it",
            sm.len() - 1
        )));
    };
    let mut udh = Udh {
        header_length: end,
        ..Udh::default()
    };
    let mut i = 0;
    while i < body.len() {
        let (Some(&iei), Some(&len)) = (body.get(i), body.get(i + 1)) else {
            return Err(malformed(format!(
                "truncated element header at offset {}",
                i + 1
            )));
        };
        let Some(data) = body.get(i + 2..i + 2 + len as usize) else {
            return Err(malformed(format!(
                "element 0x{iei:02X} length {len} runs past the UDH"
            )));
        };
        let want = match iei {
            IEI_CONCAT_8 => Some(3),
            IEI_CONCAT_16 => Some(4),
            IEI_PORTS_8 => Some(2),
            IEI_PORTS_16 => Some(4),
            IEI_NATIONAL_SINGLE | IEI_NATIONAL_LOCKING => Some(1),
            _ => None,
        };
        if let Some(w) = want {
            if data.len() != w {
                return Err(malformed(format!(
                    "element 0x{iei:02X} has length {len}, expected {w}"
                )));
            }
        }
        match (iei, data) {
            (IEI_CONCAT_8, &[r, t, s]) => {
                udh.concat = Some((r as u16, t, s));
                udh.reference_bits = Some(8);
            }
            (IEI_CONCAT_16, &[hi, lo, t, s]) => {
                udh.concat = Some((u16::from_be_bytes([hi, lo]), t, s));
                udh.reference_bits = Some(16);
            }
            (IEI_PORTS_8, &[d, o]) => udh.ports = Some((d as u16, o as u16)),
            (IEI_PORTS_16, &[d1, d2, o1, o2]) => {
                udh.ports = Some((u16::from_be_bytes([d1, d2]), u16::from_be_bytes([o1, o2])))
            }
            (IEI_NATIONAL_SINGLE, &[l]) => udh.national_single = Some(l),
            (IEI_NATIONAL_LOCKING, &[l]) => udh.national_locking = Some(l),
            _ => {}
        }
        udh.elements.push((iei, data.to_vec()));
        i += 2 + len as usize;
    }
    Ok(udh)
}

/// Decodes the text of a message from its parts (one part for a single
/// message), each a whole short_message. With `udhi`, each part's UDH is
/// stripped and its national language IEs select the GSM tables. Packed GSM
/// is unpacked part by part (each part has its own fill bits); other
/// encodings are joined first so a character split by a careless sender
/// still decodes.
pub fn decode_message(
    chain: &Chain,
    parts: &[&[u8]],
    dcs: u8,
    udhi: bool,
    packed: bool,
) -> Result<String> {
    let mut bodies: Vec<(&[u8], u8)> = Vec::with_capacity(parts.len());
    let mut alphabet = None;
    for part in parts {
        if udhi {
            let udh = parse_udh(part)?;
            if alphabet.is_none()
                && (udh.national_locking.is_some() || udh.national_single.is_some())
            {
                alphabet = Some(Alphabet::for_decoding(
                    udh.national_locking,
                    udh.national_single,
                ));
            }
            let body = part.get(udh.header_length..).unwrap_or_default();
            bodies.push((body, udh.fill_bits()));
        } else {
            bodies.push((part, 0));
        }
    }
    let is_gsm = chain.alphabet_for(dcs) == DcsAlphabet::Gsm7;
    if is_gsm && packed {
        let mut out = String::new();
        for (body, fill_bits) in bodies {
            out.push_str(&chain.decode(
                body,
                dcs,
                GsmDecode {
                    packed,
                    fill_bits,
                    alphabet,
                },
            )?);
        }
        return Ok(out);
    }
    if let [(body, _)] = bodies[..] {
        return chain.decode(
            body,
            dcs,
            GsmDecode {
                packed: false,
                fill_bits: 0,
                alphabet,
            },
        );
    }
    let joined: Vec<u8> = bodies.iter().flat_map(|(b, _)| b.iter().copied()).collect();
    chain.decode(
        &joined,
        dcs,
        GsmDecode {
            packed: false,
            fill_bits: 0,
            alphabet,
        },
    )
}

/// Identifies one concatenated message; the same shape for UDH and SAR.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Key {
    pub source: String,
    pub destination: String,
    pub reference: u16,
    pub total: u8,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Added {
    /// All parts, in sequence order.
    Complete(Vec<Vec<u8>>),
    Pending,
    /// This part was already received (or its message already completed).
    Duplicate,
    Invalid(&'static str),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    Timeout,
    Evicted,
}

impl Reason {
    pub fn name(self) -> &'static str {
        match self {
            Reason::Timeout => "timeout",
            Reason::Evicted => "evicted",
        }
    }
}

/// A group given up on: timed out or evicted to stay within bounds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Incomplete {
    pub key: Key,
    pub first_ms: i64,
    pub reason: Reason,
    /// Indexed by seq - 1; None where missing.
    pub parts: Vec<Option<Vec<u8>>>,
}

impl Incomplete {
    pub fn missing(&self) -> Vec<u8> {
        (1..=self.key.total)
            .filter(|s| self.parts[*s as usize - 1].is_none())
            .collect()
    }
    pub fn received(&self) -> Vec<u8> {
        (1..=self.key.total)
            .filter(|s| self.parts[*s as usize - 1].is_some())
            .collect()
    }
}

struct Group {
    parts: Vec<Option<Vec<u8>>>,
    received: usize,
    first_ms: i64,
    order: (i64, u64),
}

/// Collects parts until their message is whole.
pub struct Reassembler {
    max_pending: usize,
    groups: HashMap<Key, Group>,
    /// Groups by (first arrival, insertion counter): oldest first.
    order: BTreeMap<(i64, u64), Key>,
    counter: u64,
    evicted: Vec<Incomplete>,
    /// Recently completed messages, so a late retransmitted part (a
    /// deliver_sm the SMSC repeats because our resp was lost) is a duplicate
    /// instead of the start of a group that can only time out.
    completed: HashMap<Key, i64>,
    completed_order: VecDeque<(i64, Key)>,
}

impl Default for Reassembler {
    fn default() -> Self {
        Reassembler::new(DEFAULT_MAX_PENDING)
    }
}

impl Reassembler {
    pub fn new(max_pending: usize) -> Reassembler {
        Reassembler {
            max_pending: max_pending.max(1),
            groups: HashMap::new(),
            order: BTreeMap::new(),
            counter: 0,
            evicted: Vec::new(),
            completed: HashMap::new(),
            completed_order: VecDeque::new(),
        }
    }

    pub fn pending(&self) -> usize {
        self.groups.len()
    }

    pub fn max_pending(&self) -> usize {
        self.max_pending
    }

    pub fn add(&mut self, key: Key, seq: u8, payload: &[u8], now_ms: i64) -> Added {
        if key.total == 0 {
            return Added::Invalid("total is 0");
        }
        if seq == 0 {
            return Added::Invalid("seq is 0");
        }
        if seq > key.total {
            return Added::Invalid("seq is greater than total");
        }
        if self.completed.contains_key(&key) {
            return Added::Duplicate;
        }
        if key.total == 1 {
            return Added::Complete(vec![payload.to_vec()]);
        }
        let idx = seq as usize - 1;
        if let Some(g) = self.groups.get_mut(&key) {
            if g.parts[idx].is_some() {
                return Added::Duplicate;
            }
            g.parts[idx] = Some(payload.to_vec());
            g.received += 1;
            if g.received < g.parts.len() {
                return Added::Pending;
            }
            let Some(g) = self.groups.remove(&key) else {
                return Added::Pending;
            };
            self.order.remove(&g.order);
            self.remember_completed(key, now_ms);
            return Added::Complete(g.parts.into_iter().map(|p| p.unwrap_or_default()).collect());
        }
        while self.groups.len() >= self.max_pending {
            let Some((_, oldest)) = self.order.pop_first() else {
                break;
            };
            if let Some(g) = self.groups.remove(&oldest) {
                self.evicted.push(Incomplete {
                    key: oldest,
                    first_ms: g.first_ms,
                    reason: Reason::Evicted,
                    parts: g.parts,
                });
            }
        }
        let mut parts = vec![None; key.total as usize];
        parts[idx] = Some(payload.to_vec());
        self.counter += 1;
        let order = (now_ms, self.counter);
        self.order.insert(order, key.clone());
        self.groups.insert(
            key,
            Group {
                parts,
                received: 1,
                first_ms: now_ms,
                order,
            },
        );
        Added::Pending
    }

    fn remember_completed(&mut self, key: Key, now_ms: i64) {
        while self.completed_order.len() >= self.max_pending {
            if let Some((_, k)) = self.completed_order.pop_front() {
                self.completed.remove(&k);
            }
        }
        self.completed.insert(key.clone(), now_ms);
        self.completed_order.push_back((now_ms, key));
    }

    /// Groups whose first part arrived `timeout_ms` or more before `now_ms`,
    /// plus any evicted since the last call; oldest first. Also forgets
    /// completed messages older than the timeout.
    pub fn expire(&mut self, now_ms: i64, timeout_ms: i64) -> Vec<Incomplete> {
        let mut out = std::mem::take(&mut self.evicted);
        let cutoff = now_ms.saturating_sub(timeout_ms);
        while let Some(entry) = self.order.first_entry() {
            if entry.key().0 > cutoff {
                break;
            }
            let key = entry.remove();
            if let Some(g) = self.groups.remove(&key) {
                out.push(Incomplete {
                    key,
                    first_ms: g.first_ms,
                    reason: Reason::Timeout,
                    parts: g.parts,
                });
            }
        }
        // Completed entries are appended in arrival order, so the front is oldest.
        while let Some((t, _)) = self.completed_order.front() {
            if *t > cutoff {
                break;
            }
            if let Some((t, k)) = self.completed_order.pop_front() {
                if self.completed.get(&k) == Some(&t) {
                    self.completed.remove(&k);
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(r: u16, t: u8) -> Key {
        Key {
            source: "a".into(),
            destination: "b".into(),
            reference: r,
            total: t,
        }
    }

    #[test]
    fn udh_parsing() {
        let u = parse_udh(&[5, 0, 3, 9, 2, 1, b'h', b'i']).unwrap();
        assert_eq!(u.concat, Some((9, 2, 1)));
        assert_eq!(u.reference_bits, Some(8));
        assert_eq!(u.header_length, 6);
        let u = parse_udh(&[
            0x0D, 8, 4, 1, 2, 3, 1, 0x24, 1, 1, 0x70, 2, 0xAA, 0xBB, b'x',
        ])
        .unwrap();
        assert_eq!(u.concat, Some((0x0102, 3, 1)));
        assert_eq!(u.national_single, Some(1));
        assert_eq!(u.elements.last(), Some(&(0x70, vec![0xAA, 0xBB])));
        let u = parse_udh(&[6, 5, 4, 0x0B, 0x84, 0x23, 0xF0]).unwrap();
        assert_eq!(u.ports, Some((2948, 9200)));
        assert_eq!(u.fill_bits(), 0);
        for bad in [
            &[][..],
            &[5, 0, 3, 1],
            &[3, 0, 3, 1],
            &[2, 0x70],
            &[4, 0, 2, 1, 1],
            &[1, 0],
        ] {
            assert!(parse_udh(bad).is_err(), "{bad:?}");
        }
        assert_eq!(parse_udh(&[0]).unwrap().header_length, 1);
    }

    #[test]
    fn out_of_order_and_duplicates() {
        let mut r = Reassembler::new(10);
        assert_eq!(r.add(key(1, 3), 3, b"c", 0), Added::Pending);
        assert_eq!(r.add(key(1, 3), 1, b"a", 1), Added::Pending);
        assert_eq!(r.add(key(1, 3), 1, b"x", 2), Added::Duplicate);
        assert_eq!(
            r.add(key(1, 3), 2, b"b", 3),
            Added::Complete(vec![b"a".to_vec(), b"b".to_vec(), b"c".to_vec()])
        );
        assert_eq!(r.pending(), 0);
        assert_eq!(r.add(key(1, 3), 2, b"b", 4), Added::Duplicate);
        assert_eq!(r.add(key(1, 3), 0, b"", 4), Added::Invalid("seq is 0"));
        assert_eq!(
            r.add(key(1, 3), 4, b"", 4),
            Added::Invalid("seq is greater than total")
        );
        assert_eq!(r.add(key(1, 0), 1, b"", 4), Added::Invalid("total is 0"));
        // After the completed memory expires, the reference may be reused.
        assert!(r.expire(100, 50).is_empty());
        assert_eq!(r.add(key(1, 3), 2, b"b", 101), Added::Pending);
    }

    #[test]
    fn expiry_and_eviction() {
        let mut r = Reassembler::new(2);
        r.add(key(1, 2), 1, b"a", 0);
        r.add(key(2, 3), 2, b"b", 10);
        r.add(key(3, 2), 2, b"c", 20);
        assert_eq!(r.pending(), 2);
        let out = r.expire(30, 15);
        assert_eq!(out.len(), 2);
        assert_eq!(out[0].reason, Reason::Evicted);
        assert_eq!(out[0].key.reference, 1);
        assert_eq!(out[1].reason, Reason::Timeout);
        assert_eq!(out[1].key.reference, 2);
        assert_eq!(out[1].missing(), vec![1, 3]);
        assert_eq!(out[1].received(), vec![2]);
        assert_eq!(r.pending(), 1);
        assert!(r.expire(34, 15).is_empty());
        assert_eq!(r.expire(35, 15).len(), 1);
    }

    #[test]
    fn decode_parts_with_national_tables() {
        use crate::charsets::Chain;
        use crate::segment::{segment, Options};
        let chain = Chain::default();
        let text = "Ağaç şarkı ".repeat(30);
        for packed in [false, true] {
            let o = Options {
                national_language: Some(1),
                packed,
                reference: 3,
                ..Options::default()
            };
            let s = segment(&text, &chain, &o).unwrap();
            assert!(s.parts.len() > 1);
            let parts: Vec<&[u8]> = s.parts.iter().map(|p| p.as_slice()).collect();
            assert_eq!(
                decode_message(&chain, &parts, s.dcs, true, packed).unwrap(),
                text
            );
        }
    }
}
