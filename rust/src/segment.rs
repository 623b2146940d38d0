//! Segmentation of outbound text: pick the charset of the chain (S8), then
//! split into short messages that fit TP-UD (TS 23.040 9.2.3.24: 140 octets,
//! i.e. 160 septets / 140 octets / 70 UCS-2 code units), with concatenation
//! by UDH (IEI 0x00 or 0x08), by SAR TLVs, or as one message_payload.
//!
//! A character is never split across parts: an escaped GSM character (2
//! septets) or a UTF-16 surrogate pair moves whole to the next part.

use crate::charsets::{Chain, Charset, Encoding};
use crate::error::{CodecError, Result};
use crate::gsm::{self, Alphabet, SUPPORTED_LANGUAGES};
use crate::status;

/// TP-UD holds at most 140 octets (TS 23.040 9.2.3.24).
pub const TP_UD_OCTETS: usize = 140;
/// The concatenation IE counts parts in one octet (TS 23.040 9.2.3.24.1).
pub const MAX_PARTS: usize = 255;
/// message_payload's TLV length is 16 bits (SMPP 3.4 5.3.2.32).
pub const MAX_PAYLOAD_OCTETS: usize = 65535;
/// IEI 0x00: concatenated short messages, 8-bit reference (TS 23.040 9.2.3.24.1).
pub const IEI_CONCAT_8: u8 = 0x00;
/// IEI 0x08: concatenated short messages, 16-bit reference (TS 23.040 9.2.3.24.8).
pub const IEI_CONCAT_16: u8 = 0x08;
/// IEI 0x24 / 0x25: national language single / locking shift (TS 23.040 9.2.3.24.15/16).
pub const IEI_NATIONAL_SINGLE: u8 = 0x24;
pub const IEI_NATIONAL_LOCKING: u8 = 0x25;
/// IE sizes including IEI and length octets.
const CONCAT_8_IE_OCTETS: usize = 5;
const CONCAT_16_IE_OCTETS: usize = 6;
const NATIONAL_IE_OCTETS: usize = 3;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Concat {
    Udh8,
    Udh16,
    Sar,
    Payload,
}

impl Concat {
    pub fn from_name(name: &str) -> Result<Concat> {
        match name.to_ascii_lowercase().as_str() {
            "udh8" | "udh" => Ok(Concat::Udh8),
            "udh16" => Ok(Concat::Udh16),
            "sar" => Ok(Concat::Sar),
            "payload" | "message_payload" => Ok(Concat::Payload),
            _ => Err(CodecError::new(
                status::ESME_RSUBMITFAIL,
                "concat",
                format!("unknown concatenation method {name:?}; known: udh8, udh16, sar, payload"),
            )),
        }
    }

    /// Octets the concatenation costs in each part's UDH budget. SAR parts
    /// carry no UDH, but are split like udh8 because SMSCs turn sar_* TLVs
    /// into a concatenation IE on the air interface.
    fn ie_octets(self) -> usize {
        match self {
            Concat::Udh8 | Concat::Sar => CONCAT_8_IE_OCTETS,
            Concat::Udh16 => CONCAT_16_IE_OCTETS,
            Concat::Payload => 0,
        }
    }
}

#[derive(Debug, Clone, Copy)]
pub struct Options {
    pub concat: Concat,
    /// Concatenation reference, supplied by the caller (the core keeps no
    /// state): 0..=255 for udh8, 0..=65535 for udh16 and SAR.
    pub reference: u16,
    /// GSM septets packed (8 in 7 octets) instead of one per octet.
    pub packed: bool,
    /// National language (TS 23.038 6.2.1.2.4) whose shift tables may keep
    /// the text in GSM 7-bit.
    pub national_language: Option<u8>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            concat: Concat::Udh8,
            reference: 0,
            packed: false,
            national_language: None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Segmented {
    pub dcs: u8,
    pub charset: Charset,
    pub encoding: Encoding,
    /// short_message (or message_payload) bytes, UDH included.
    pub parts: Vec<Vec<u8>>,
    /// The caller must set esm_class UDHI (0x40) on every part.
    pub udhi: bool,
    /// (sar_msg_ref_num, sar_total_segments, sar_segment_seqnum) per part.
    pub sar: Option<Vec<(u16, u8, u8)>>,
    /// Units of the whole text: septets, octets or UTF-16 code units.
    pub units: usize,
    /// Units still free in the last part.
    pub remaining: usize,
    pub national_locking: Option<u8>,
    pub national_single: Option<u8>,
}

/// The outcome of charset selection: the text encoded once, to be sliced
/// into parts.
#[derive(Debug, Clone)]
struct Plan {
    dcs: u8,
    charset: Charset,
    alphabet: Alphabet,
    /// Unpacked septets, octets, or UTF-16BE bytes.
    encoded: Vec<u8>,
}

impl Plan {
    fn encoding(&self) -> Encoding {
        self.charset.encoding()
    }

    fn units(&self) -> usize {
        self.encoded.len() / bytes_per_unit(self.encoding())
    }

    fn national_ie_octets(&self) -> usize {
        if self.charset != Charset::Gsm {
            return 0;
        }
        NATIONAL_IE_OCTETS
            * ((self.alphabet.locking_lang != 0) as usize
                + (self.alphabet.single_lang != 0) as usize)
    }
}

/// Units a part holds when its UDH (UDHL included) has `udh` octets.
fn capacity(encoding: Encoding, udh: usize) -> usize {
    let free = TP_UD_OCTETS.saturating_sub(udh);
    match encoding {
        // TS 23.040 9.2.3.24: the UDH plus fill bits occupy whole septets.
        Encoding::Gsm7 => free * 8 / 7,
        Encoding::EightBit => free,
        Encoding::Ucs2 => free / 2,
    }
}

fn udh_len(ie_octets: usize) -> usize {
    if ie_octets == 0 {
        0
    } else {
        1 + ie_octets
    }
}

/// Parts a text of `units` needs, ignoring the never-split rule (used only to
/// rank national table choices; the real split is exact).
fn estimate_parts(units: usize, encoding: Encoding, national: usize, concat: Concat) -> usize {
    if units <= capacity(encoding, udh_len(national)) || concat == Concat::Payload {
        return 1;
    }
    let cap = capacity(encoding, udh_len(national + concat.ie_octets())).max(1);
    units.div_ceil(cap)
}

fn check_language(lang: u8) -> Result<()> {
    if SUPPORTED_LANGUAGES.contains(&lang) {
        Ok(())
    } else {
        let supported: Vec<String> = SUPPORTED_LANGUAGES
            .iter()
            .map(|l| format!("{l} ({})", gsm::language_name(*l).unwrap_or("?")))
            .collect();
        Err(CodecError::new(
            status::ESME_RSUBMITFAIL,
            "national_language",
            format!(
                "national language {lang} has no shift table in this build; supported: {}",
                supported.join(", ")
            ),
        ))
    }
}

/// The GSM alphabet (default, or with the language's single and/or locking
/// shift table) that represents the text in the fewest parts, then with the
/// fewest IEs, then the fewest septets, with the text encoded in it; None if
/// none can.
fn choose_alphabet(text: &str, lang: Option<u8>, concat: Concat) -> Option<(Alphabet, Vec<u8>)> {
    let mut best: Option<(usize, usize, usize, Alphabet)> = None;
    if let Some(lang) = lang {
        for (l, s) in [(0, 0), (0, lang), (lang, 0), (lang, lang)] {
            let Some(alphabet) = Alphabet::new(l, s) else {
                continue;
            };
            let Some(units) = alphabet.septet_len(text) else {
                continue;
            };
            let ies = (l != 0) as usize + (s != 0) as usize;
            let parts = estimate_parts(units, Encoding::Gsm7, ies * NATIONAL_IE_OCTETS, concat);
            if best
                .as_ref()
                .is_none_or(|b| (parts, ies, units) < (b.0, b.1, b.2))
            {
                best = Some((parts, ies, units, alphabet));
            }
        }
    }
    let alphabet = match (lang, best) {
        (Some(_), None) => return None,
        (_, Some((_, _, _, a))) => a,
        (None, None) => Alphabet::default(),
    };
    // Encoding stops at the first missing character: a cheap "can it?".
    let mut encoded = Vec::new();
    alphabet.encode_into(text, &mut encoded).ok()?;
    Some((alphabet, encoded))
}

/// The chosen plan and the index of its chain entry.
fn plan(text: &str, chain: &Chain, opts: &Options) -> Result<(Plan, usize)> {
    if let Some(lang) = opts.national_language {
        check_language(lang)?;
    }
    let mut chosen = None;
    for (i, &(dcs, charset)) in chain.entries().iter().enumerate() {
        let found = if charset == Charset::Gsm {
            choose_alphabet(text, opts.national_language, opts.concat).map(|(alphabet, encoded)| {
                Plan {
                    dcs,
                    charset,
                    alphabet,
                    encoded,
                }
            })
        } else if charset.can_encode(text) {
            Some(Plan {
                dcs,
                charset,
                alphabet: Alphabet::default(),
                encoded: charset.encode(text)?,
            })
        } else {
            None
        };
        if let Some(p) = found {
            chosen = Some((i, p));
            break;
        }
    }
    let Some((index, plan)) = chosen else {
        return Err(chain.no_charset(text));
    };
    Ok((plan, index))
}

/// forced_by lists at most this many characters: enough to show a user why,
/// and it bounds the scan of texts in another script.
pub const MAX_FORCED_BY: usize = 16;

fn forced_by(text: &str, first: Charset, lang: Option<u8>) -> Vec<char> {
    let alphabets: Vec<Alphabet> = match lang {
        Some(l) if first == Charset::Gsm => [(0, 0), (0, l), (l, 0), (l, l)]
            .iter()
            .filter_map(|&(a, b)| Alphabet::new(a, b))
            .collect(),
        _ => vec![Alphabet::default()],
    };
    let mut out: Vec<char> = Vec::new();
    for c in text.chars() {
        let ok = if first == Charset::Gsm {
            alphabets.iter().any(|a| a.code(c).is_some())
        } else {
            first.has(c)
        };
        if !ok && !out.contains(&c) {
            out.push(c);
            if out.len() == MAX_FORCED_BY {
                break;
            }
        }
    }
    out
}

/// Byte ranges of the parts: at most `cap_bytes` each, the cut moved back
/// so that an escape pair (ESC is never the second septet of a pair) or a
/// surrogate pair stays whole.
fn part_ranges(plan: &Plan, cap_bytes: usize, max_parts: usize) -> Result<Vec<(usize, usize)>> {
    let enc = &plan.encoded;
    let encoding = plan.encoding();
    let mut out = Vec::with_capacity(enc.len() / cap_bytes.max(1) + 1);
    let mut start: usize = 0;
    loop {
        let mut end = start.saturating_add(cap_bytes).min(enc.len());
        if end < enc.len() {
            match encoding {
                Encoding::Gsm7 if enc.get(end - 1) == Some(&gsm::ESC) => end -= 1,
                Encoding::Ucs2 if matches!(enc.get(end - 2), Some(0xD8..=0xDB)) => end -= 2,
                _ => {}
            }
        }
        out.push((start, end));
        start = end;
        if start >= enc.len() {
            return Ok(out);
        }
        if out.len() >= max_parts {
            return Err(too_long(max_parts));
        }
    }
}

fn too_long(max: usize) -> CodecError {
    CodecError::new(
        status::ESME_RINVMSGLEN,
        "short_message",
        format!("the text needs more than {max} parts (TS 23.040 9.2.3.24.1 allows {MAX_PARTS})"),
    )
}

fn bytes_per_unit(encoding: Encoding) -> usize {
    if encoding == Encoding::Ucs2 {
        2
    } else {
        1
    }
}

/// Writes a UDH (UDHL + IEs) for the given concat info and national tables.
fn write_udh(out: &mut Vec<u8>, concat: Option<(Concat, u16, u8, u8)>, alphabet: Option<Alphabet>) {
    let start = out.len();
    out.push(0);
    if let Some((method, reference, total, seq)) = concat {
        match method {
            Concat::Udh8 => out.extend_from_slice(&[IEI_CONCAT_8, 3, reference as u8, total, seq]),
            Concat::Udh16 => {
                let [hi, lo] = reference.to_be_bytes();
                out.extend_from_slice(&[IEI_CONCAT_16, 4, hi, lo, total, seq]);
            }
            Concat::Sar | Concat::Payload => {}
        }
    }
    if let Some(a) = alphabet {
        if a.single_lang != 0 {
            out.extend_from_slice(&[IEI_NATIONAL_SINGLE, 1, a.single_lang]);
        }
        if a.locking_lang != 0 {
            out.extend_from_slice(&[IEI_NATIONAL_LOCKING, 1, a.locking_lang]);
        }
    }
    let udhl = out.len() - start - 1;
    if udhl == 0 {
        out.truncate(start);
    } else {
        out[start] = udhl as u8;
    }
}

/// Septet-alignment fill bits after a UDH of `udh` octets (TS 23.040 9.2.3.24).
pub fn fill_bits_after(udh: usize) -> u8 {
    ((7 - (udh * 8) % 7) % 7) as u8
}

fn assemble(plan: &Plan, udh: &[u8], body: &[u8], packed: bool) -> Vec<u8> {
    if packed && plan.charset == Charset::Gsm {
        let mut out = Vec::with_capacity(udh.len() + body.len());
        out.extend_from_slice(udh);
        out.extend_from_slice(&gsm::pack_padded(body, fill_bits_after(udh.len())));
        out
    } else {
        [udh, body].concat()
    }
}

/// Splits a text for submission. See the module docs for the limits.
pub fn segment(text: &str, chain: &Chain, opts: &Options) -> Result<Segmented> {
    segment_impl(text, chain, opts, true).map(|(s, _)| s)
}

/// Segments (or, without `build`, only sizes) the text; also returns the
/// index of the chain entry used.
fn segment_impl(
    text: &str,
    chain: &Chain,
    opts: &Options,
    build: bool,
) -> Result<(Segmented, usize)> {
    if opts.concat == Concat::Udh8 && opts.reference > 0xFF {
        return Err(CodecError::new(
            status::ESME_RSUBMITFAIL,
            "reference",
            format!(
                "reference {} does not fit the 8-bit concatenation IE (0..255)",
                opts.reference
            ),
        ));
    }
    let (plan, index) = plan(text, chain, opts)?;
    let encoding = plan.encoding();
    let units = plan.units();
    let national = plan.national_ie_octets();
    let national_alphabet = (national > 0).then_some(plan.alphabet);
    let per_unit = bytes_per_unit(encoding);
    let single_cap = capacity(encoding, udh_len(national));

    let mut result = Segmented {
        dcs: plan.dcs,
        charset: plan.charset,
        encoding,
        parts: Vec::new(),
        udhi: national > 0,
        sar: None,
        units,
        remaining: 0,
        national_locking: (national > 0 && plan.alphabet.locking_lang != 0)
            .then_some(plan.alphabet.locking_lang),
        national_single: (national > 0 && plan.alphabet.single_lang != 0)
            .then_some(plan.alphabet.single_lang),
    };

    let mut header = Vec::with_capacity(16);
    write_udh(&mut header, None, national_alphabet);

    if opts.concat == Concat::Payload {
        let part = assemble(&plan, &header, &plan.encoded, opts.packed);
        if part.len() > MAX_PAYLOAD_OCTETS {
            return Err(CodecError::new(
                status::ESME_RINVMSGLEN,
                "message_payload",
                format!(
                    "{} octets exceed the message_payload maximum of {MAX_PAYLOAD_OCTETS}",
                    part.len()
                ),
            ));
        }
        result.remaining = (MAX_PAYLOAD_OCTETS - part.len()) / per_unit;
        result.parts.push(part);
        return Ok((result, index));
    }

    if units <= single_cap {
        result.remaining = single_cap - units;
        if build {
            result
                .parts
                .push(assemble(&plan, &header, &plan.encoded, opts.packed));
        } else {
            result.parts.push(Vec::new());
        }
        return Ok((result, index));
    }

    let multi_cap = capacity(encoding, udh_len(national + opts.concat.ie_octets()));
    let ranges = part_ranges(&plan, multi_cap * per_unit, MAX_PARTS)?;
    let total = ranges.len() as u8;
    result.remaining = multi_cap - ranges.last().map(|(a, b)| (b - a) / per_unit).unwrap_or(0);
    result.parts.reserve(ranges.len());
    for (i, &(a, b)) in ranges.iter().enumerate() {
        if !build {
            result.parts.push(Vec::new());
            continue;
        }
        header.clear();
        write_udh(
            &mut header,
            Some((opts.concat, opts.reference, total, (i + 1) as u8)),
            national_alphabet,
        );
        result
            .parts
            .push(assemble(&plan, &header, &plan.encoded[a..b], opts.packed));
    }
    match opts.concat {
        Concat::Sar => {
            result.sar = Some(
                (1..=total)
                    .map(|seq| (opts.reference, total, seq))
                    .collect(),
            );
        }
        _ => result.udhi = true,
    }
    Ok((result, index))
}

/// What `segment` would produce, without the bytes: for the API's preview.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Preview {
    pub dcs: u8,
    pub charset: Charset,
    pub encoding: Encoding,
    pub segments: usize,
    pub units: usize,
    pub remaining: usize,
    pub forced_by: Vec<char>,
    pub national_locking: Option<u8>,
    pub national_single: Option<u8>,
}

/// Preview of the air-interface split. message_payload is previewed as the
/// udh8 split the SMSC will make of it.
pub fn preview(text: &str, chain: &Chain, opts: &Options) -> Result<Preview> {
    let mut o = *opts;
    o.packed = false;
    if o.concat == Concat::Payload {
        o.concat = Concat::Udh8;
    }
    if o.concat == Concat::Udh8 {
        o.reference &= 0xFF;
    }
    let (s, index) = segment_impl(text, chain, &o, false)?;
    let forced_by = if index == 0 {
        Vec::new()
    } else {
        forced_by(text, chain.entries()[0].1, o.national_language)
    };
    Ok(Preview {
        dcs: s.dcs,
        charset: s.charset,
        encoding: s.encoding,
        segments: s.parts.len(),
        units: s.units,
        remaining: s.remaining,
        forced_by,
        national_locking: s.national_locking,
        national_single: s.national_single,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seg(text: &str, concat: Concat) -> Segmented {
        segment(
            text,
            &Chain::default(),
            &Options {
                concat,
                reference: 7,
                ..Options::default()
            },
        )
        .unwrap()
    }

    #[test]
    fn gsm_limits() {
        assert_eq!(seg(&"a".repeat(160), Concat::Udh8).parts.len(), 1);
        let s = seg(&"a".repeat(161), Concat::Udh8);
        assert_eq!(s.parts.len(), 2);
        assert!(s.udhi);
        assert_eq!(&s.parts[0][..6], &[5, 0, 3, 7, 2, 1]);
        assert_eq!(s.parts[0].len(), 6 + 153);
        assert_eq!(seg(&"a".repeat(306), Concat::Udh8).parts.len(), 2);
        assert_eq!(seg(&"a".repeat(307), Concat::Udh8).parts.len(), 3);
        let s = seg(&"a".repeat(305), Concat::Udh16);
        assert_eq!(s.parts.len(), 3);
        assert_eq!(&s.parts[0][..7], &[6, 8, 4, 0, 7, 3, 1]);
        assert_eq!(s.parts[0].len(), 7 + 152);
        assert_eq!(seg(&"a".repeat(159), Concat::Udh8).remaining, 1);
    }

    #[test]
    fn escape_never_split() {
        let text = format!("{}€{}", "a".repeat(152), "b".repeat(10));
        let s = seg(&text, Concat::Udh8);
        assert_eq!(s.units, 152 + 2 + 10);
        assert_eq!(s.parts[0].len(), 6 + 152);
        assert_eq!(&s.parts[1][6..8], &[gsm::ESC, 0x65]);
    }

    #[test]
    fn ucs2_limits_and_surrogates() {
        assert_eq!(
            seg(&"я".repeat(70), Concat::Udh8).encoding,
            Encoding::EightBit
        );
        let t = format!("😀{}", "a".repeat(68));
        assert_eq!(seg(&t, Concat::Udh8).parts.len(), 1);
        let t = format!("😀{}", "a".repeat(69));
        assert_eq!(seg(&t, Concat::Udh8).parts.len(), 2);
        let t = format!("{}😀{}", "☃".repeat(66), "☃".repeat(5));
        let s = seg(&t, Concat::Udh8);
        assert_eq!(s.parts.len(), 2);
        assert_eq!(s.parts[0].len(), 6 + 66 * 2);
        assert_eq!(s.parts[1].len(), 6 + 4 + 10);
        assert_eq!(s.remaining, 67 - 7);
    }

    #[test]
    fn sar_and_payload() {
        let s = seg(&"a".repeat(200), Concat::Sar);
        assert!(!s.udhi);
        assert_eq!(s.sar, Some(vec![(7, 2, 1), (7, 2, 2)]));
        assert_eq!(s.parts[0].len(), 153);
        let s = seg(&"a".repeat(1000), Concat::Payload);
        assert_eq!(s.parts.len(), 1);
        assert_eq!(s.parts[0].len(), 1000);
        assert!(segment(
            &"a".repeat(70000),
            &Chain::default(),
            &Options {
                concat: Concat::Payload,
                ..Options::default()
            }
        )
        .is_err());
    }

    #[test]
    fn too_many_parts() {
        assert_eq!(seg(&"a".repeat(153 * 255), Concat::Udh8).parts.len(), 255);
        let e = segment(
            &"a".repeat(153 * 255 + 1),
            &Chain::default(),
            &Options::default(),
        )
        .unwrap_err();
        assert_eq!(e.status, status::ESME_RINVMSGLEN);
    }

    #[test]
    fn national_languages() {
        let tr = "Ağaç dalında şarkı söyleyen kuş, İstanbul'a uçtu.";
        let s = seg(tr, Concat::Udh8);
        assert_eq!(s.encoding, Encoding::Ucs2);
        let p = preview(tr, &Chain::default(), &Options::default()).unwrap();
        assert!(p.forced_by.contains(&'ğ'));
        let o = Options {
            national_language: Some(gsm::LANG_TURKISH),
            ..Options::default()
        };
        let s = segment(tr, &Chain::default(), &o).unwrap();
        assert_eq!(s.encoding, Encoding::Gsm7);
        assert!(s.udhi);
        assert!(s.national_locking.is_some() || s.national_single.is_some());
        // Plain text keeps the default alphabet and no UDH.
        let s = segment("hello", &Chain::default(), &o).unwrap();
        assert!(!s.udhi && s.national_locking.is_none() && s.national_single.is_none());
        assert!(segment(
            "x",
            &Chain::default(),
            &Options {
                national_language: Some(14),
                ..o
            }
        )
        .is_err());
    }

    #[test]
    fn indian_languages() {
        let hi = "नमस्ते दुनिया, आप कैसे हैं?";
        assert_eq!(seg(hi, Concat::Udh8).encoding, Encoding::Ucs2);
        let o = Options {
            national_language: Some(gsm::LANG_HINDI),
            ..Options::default()
        };
        let s = segment(hi, &Chain::default(), &o).unwrap();
        assert_eq!(s.encoding, Encoding::Gsm7);
        // Only the locking table is needed: one IE, UDHL 3.
        assert_eq!((s.national_locking, s.national_single), (Some(6), None));
        assert_eq!(&s.parts[0][..4], &[3, IEI_NATIONAL_LOCKING, 1, 6]);
        assert_eq!(s.units, hi.chars().count());
        // Latin capitals live in the Hindi single shift table, not the default
        // extension table: both IEs.
        let s = segment("नमस्ते Ram", &Chain::default(), &o).unwrap();
        assert_eq!((s.national_locking, s.national_single), (Some(6), Some(6)));
        assert_eq!(&s.parts[0][..7], &[6, 0x24, 1, 6, 0x25, 1, 6]);
        // € is in the default extension table too: the single IE is not worth it.
        let s = segment("नमस्ते €", &Chain::default(), &o).unwrap();
        assert_eq!((s.national_locking, s.national_single), (Some(6), None));
        // 7-bit capacity with one national IE: 136 octets -> 155 septets.
        let long = "क".repeat(155);
        assert_eq!(
            segment(&long, &Chain::default(), &o).unwrap().parts.len(),
            1
        );
        let long = "क".repeat(156);
        let s = segment(&long, &Chain::default(), &o).unwrap();
        assert_eq!(s.parts.len(), 2);
        // UDHL + concat IE (5) + locking IE (3) = 9 octets -> (140-9)*8/7 = 149.
        assert_eq!(s.parts[0].len(), 9 + 149);
        for lang in gsm::LANG_BENGALI..=gsm::LANG_URDU {
            assert!(check_language(lang).is_ok());
        }
    }

    #[test]
    fn packed_with_udh() {
        let o = Options {
            packed: true,
            reference: 1,
            ..Options::default()
        };
        let s = segment(&"a".repeat(200), &Chain::default(), &o).unwrap();
        assert_eq!(s.parts.len(), 2);
        // 6 octets UDH + 1 fill bit + 153 septets = 48 + 1 + 1071 bits = 140 octets.
        assert_eq!(s.parts[0].len(), 140);
        let septets = gsm::unpack(&s.parts[0][6..], Some(153), fill_bits_after(6)).unwrap();
        assert!(septets.iter().all(|&x| x == 0x61));
    }

    #[test]
    fn empty_text() {
        let s = seg("", Concat::Udh8);
        assert_eq!(s.parts, vec![Vec::<u8>::new()]);
        assert_eq!(s.remaining, 160);
    }
}
