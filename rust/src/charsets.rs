//! The charsets of S8 and the charset chain: an ordered list of
//! (data_coding, charset) that picks the first charset able to represent a
//! text, and decodes inbound short messages by their data_coding (SMPP 3.4
//! 5.2.19 values, TS 23.038 clause 4 coding groups), the chain's own mapping
//! winning over the standard meaning.

use crate::error::{CodecError, Result};
use crate::gsm::{self, Alphabet};
use crate::status;

/// Encoding family of a charset: decides the segment limits (TS 23.040
/// 9.2.3.16: 160 septets, 140 octets or 70 UCS-2 characters per message).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    Gsm7,
    EightBit,
    Ucs2,
}

impl Encoding {
    pub fn name(self) -> &'static str {
        match self {
            Encoding::Gsm7 => "gsm7",
            Encoding::EightBit => "8bit",
            Encoding::Ucs2 => "ucs2",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Charset {
    /// GSM 03.38 default alphabet + extension, unpacked septets.
    Gsm,
    Ascii,
    Latin1,
    Jis0201,
    Iso8859_5,
    Iso8859_8,
    /// UTF-16BE: UCS-2 plus surrogate pairs for characters outside the BMP.
    Utf16Be,
}

/// Canonical names (as the seed configuration spells them) and aliases.
const NAMES: &[(Charset, &str, &[&str])] = &[
    (
        Charset::Gsm,
        "gsm_0338",
        &["gsm", "gsm7", "gsm0338", "gsm-0338", "gsm03.38"],
    ),
    (Charset::Ascii, "ASCII", &["ia5", "us-ascii", "us_ascii"]),
    (
        Charset::Latin1,
        "ISO-8859-1",
        &["latin1", "latin-1", "iso8859-1", "iso_8859_1", "iso-8859-1"],
    ),
    (
        Charset::Jis0201,
        "JIS0201",
        &["jis_x0201", "jis-x0201", "jisx0201", "jis_x_0201", "x0201"],
    ),
    (
        Charset::Iso8859_5,
        "ISO-8859-5",
        &["iso8859-5", "iso_8859_5", "cyrillic"],
    ),
    (
        Charset::Iso8859_8,
        "ISO-8859-8",
        &["iso8859-8", "iso_8859_8", "hebrew"],
    ),
    (
        Charset::Utf16Be,
        "utf-16be",
        &["ucs2", "ucs-2", "utf16be", "utf_16_be", "utf-16", "ucs-2be"],
    ),
];

/// Canonical charset names in a stable order.
pub fn charset_names() -> Vec<&'static str> {
    NAMES.iter().map(|(_, n, _)| *n).collect()
}

/// byte -> code point for the 8-bit tables (NONE where unassigned).
const UNASSIGNED: u32 = u32::MAX;

const fn iso8859_5_table() -> [u32; 256] {
    let mut t = [UNASSIGNED; 256];
    let mut b = 0;
    while b < 256 {
        t[b] = match b {
            0x00..=0xA0 => b as u32,
            0xAD => 0x00AD,
            0xF0 => 0x2116,
            0xFD => 0x00A7,
            // 0xA1..=0xFF less the three above: Cyrillic at U+0400 + (b - 0xA0).
            _ => 0x0400 + (b as u32 - 0xA0),
        };
        b += 1;
    }
    t
}

const fn iso8859_8_table() -> [u32; 256] {
    let mut t = [UNASSIGNED; 256];
    let mut b = 0;
    while b < 256 {
        t[b] = match b {
            0x00..=0xA0 => b as u32,
            0xA1 => UNASSIGNED,
            0xAA => 0x00D7,
            0xBA => 0x00F7,
            0xA2..=0xBE => b as u32,
            0xDF => 0x2017,
            0xE0..=0xFA => 0x05D0 + (b as u32 - 0xE0),
            0xFD => 0x200E,
            0xFE => 0x200F,
            _ => UNASSIGNED,
        };
        b += 1;
    }
    t
}

const fn jis0201_table() -> [u32; 256] {
    let mut t = [UNASSIGNED; 256];
    let mut b = 0;
    while b < 256 {
        t[b] = match b {
            0x5C => 0x00A5,
            0x7E => 0x203E,
            0x00..=0x7F => b as u32,
            0xA1..=0xDF => 0xFF61 + (b as u32 - 0xA1),
            _ => UNASSIGNED,
        };
        b += 1;
    }
    t
}

static ISO8859_5: [u32; 256] = iso8859_5_table();
static ISO8859_8: [u32; 256] = iso8859_8_table();
static JIS0201: [u32; 256] = jis0201_table();

impl Charset {
    /// Parses a configured name, case-insensitively, aliases included. The
    /// error names the bad name and the known ones.
    pub fn from_name(name: &str) -> Result<Charset> {
        let wanted = name.trim();
        for (cs, canonical, aliases) in NAMES {
            if canonical.eq_ignore_ascii_case(wanted)
                || aliases.iter().any(|a| a.eq_ignore_ascii_case(wanted))
            {
                return Ok(*cs);
            }
        }
        Err(CodecError::new(
            status::ESME_RSUBMITFAIL,
            "charset",
            format!(
                "unknown charset {name:?}; known: {}",
                charset_names().join(", ")
            ),
        ))
    }

    pub fn name(self) -> &'static str {
        NAMES
            .iter()
            .find(|(c, _, _)| *c == self)
            .map(|(_, n, _)| *n)
            .unwrap_or("?")
    }

    pub fn encoding(self) -> Encoding {
        match self {
            Charset::Gsm => Encoding::Gsm7,
            Charset::Utf16Be => Encoding::Ucs2,
            _ => Encoding::EightBit,
        }
    }

    /// The octet for a character in a single-byte charset.
    #[inline]
    pub fn byte_for(self, c: char) -> Option<u8> {
        let cp = c as u32;
        match self {
            Charset::Ascii => (cp < 0x80).then_some(cp as u8),
            Charset::Latin1 => (cp < 0x100).then_some(cp as u8),
            Charset::Jis0201 => match cp {
                0x5C | 0x7E => None,
                0x00..=0x7F => Some(cp as u8),
                0xA5 => Some(0x5C),
                0x203E => Some(0x7E),
                0xFF61..=0xFF9F => Some((cp - 0xFF61 + 0xA1) as u8),
                _ => None,
            },
            Charset::Iso8859_5 => match cp {
                0x00..=0xA0 | 0xAD => Some(cp as u8),
                0xA7 => Some(0xFD),
                0x2116 => Some(0xF0),
                0x0401..=0x040C | 0x040E..=0x044F | 0x0451..=0x045C | 0x045E..=0x045F => {
                    Some((cp - 0x0400 + 0xA0) as u8)
                }
                _ => None,
            },
            Charset::Iso8859_8 => match cp {
                0x00..=0xA0 => Some(cp as u8),
                0xA2..=0xA9 | 0xAB..=0xB9 | 0xBB..=0xBE => Some(cp as u8),
                0xD7 => Some(0xAA),
                0xF7 => Some(0xBA),
                0x2017 => Some(0xDF),
                0x05D0..=0x05EA => Some((cp - 0x05D0 + 0xE0) as u8),
                0x200E => Some(0xFD),
                0x200F => Some(0xFE),
                _ => None,
            },
            Charset::Gsm | Charset::Utf16Be => None,
        }
    }

    /// Whether the charset has the character.
    #[inline]
    pub fn has(self, c: char) -> bool {
        match self {
            Charset::Gsm => Alphabet::default().code(c).is_some(),
            Charset::Utf16Be => true,
            _ => self.byte_for(c).is_some(),
        }
    }

    pub fn can_encode(self, text: &str) -> bool {
        match self {
            Charset::Utf16Be => true,
            Charset::Ascii => text.is_ascii(),
            Charset::Gsm => Alphabet::default().can_encode(text),
            _ => text.chars().all(|c| self.has(c)),
        }
    }

    /// Encodes text (GSM: unpacked septets). The error names the first
    /// character the charset lacks.
    pub fn encode(self, text: &str) -> Result<Vec<u8>> {
        let missing = |c: char, at: usize| {
            CodecError::new(
                status::ESME_RSUBMITFAIL,
                "short_message",
                format!(
                    "character {c:?} (U+{:04X}) at {at} is not in charset {}",
                    c as u32,
                    self.name()
                ),
            )
        };
        match self {
            Charset::Gsm => Alphabet::default().encode(text).map_err(|c| {
                let at = text.chars().position(|x| x == c).unwrap_or(0);
                missing(c, at)
            }),
            Charset::Utf16Be => {
                let mut out = Vec::with_capacity(text.len() * 2);
                for u in text.encode_utf16() {
                    out.extend_from_slice(&u.to_be_bytes());
                }
                Ok(out)
            }
            _ => {
                let mut out = Vec::with_capacity(text.len());
                for (i, c) in text.chars().enumerate() {
                    out.push(self.byte_for(c).ok_or_else(|| missing(c, i))?);
                }
                Ok(out)
            }
        }
    }

    /// Decodes bytes. Undecodable bytes are an error naming the offset; a
    /// lone UTF-16 surrogate becomes U+FFFD.
    pub fn decode(self, data: &[u8]) -> Result<String> {
        let bad = |at: usize, what: &str| {
            CodecError::new(
                status::ESME_RX_P_APPN,
                "short_message",
                format!("{what} at offset {at} is not valid {}", self.name()),
            )
        };
        let table: &[u32; 256] = match self {
            Charset::Gsm => {
                return Alphabet::default().decode(data).map_err(|at| {
                    bad(
                        at,
                        &format!("octet 0x{:02X}", data.get(at).copied().unwrap_or(0)),
                    )
                });
            }
            Charset::Utf16Be => {
                if data.len() % 2 != 0 {
                    return Err(bad(data.len() - 1, "odd trailing octet"));
                }
                let units = data
                    .chunks_exact(2)
                    .map(|p| u16::from_be_bytes([p[0], p[1]]));
                return Ok(char::decode_utf16(units)
                    .map(|r| r.unwrap_or(char::REPLACEMENT_CHARACTER))
                    .collect());
            }
            Charset::Ascii => {
                return match data.iter().position(|b| *b >= 0x80) {
                    None => Ok(data.iter().map(|b| *b as char).collect()),
                    Some(at) => Err(bad(at, &format!("octet 0x{:02X}", data[at]))),
                };
            }
            Charset::Latin1 => return Ok(data.iter().map(|b| *b as char).collect()),
            Charset::Jis0201 => &JIS0201,
            Charset::Iso8859_5 => &ISO8859_5,
            Charset::Iso8859_8 => &ISO8859_8,
        };
        let mut out = String::with_capacity(data.len() * 2);
        for (i, b) in data.iter().enumerate() {
            match char::from_u32(table[*b as usize]) {
                Some(c) if table[*b as usize] != UNASSIGNED => out.push(c),
                _ => return Err(bad(i, &format!("octet 0x{b:02X}"))),
            }
        }
        Ok(out)
    }
}

/// What a data_coding value says about the short message's alphabet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DcsAlphabet {
    /// GSM 7-bit default alphabet (SMSC default for dcs 0).
    Gsm7,
    Text(Charset),
    /// 8-bit data: not text.
    Binary,
    /// Compressed, reserved or a charset this build has no table for.
    Unsupported(&'static str),
}

/// The standard meaning of a data_coding value: SMPP 3.4 5.2.19 for 0x00..0x0F,
/// TS 23.038 clause 4 coding groups above.
pub fn dcs_alphabet(dcs: u8) -> DcsAlphabet {
    use DcsAlphabet::*;
    match dcs {
        0x00 => Gsm7,
        0x01 => Text(Charset::Ascii),
        0x02 | 0x04 => Binary,
        0x03 => Text(Charset::Latin1),
        // SMPP 3.4 names JIS X 0208 for 5; the seed configuration (and common
        // SMSC practice for single-byte Japanese) uses JIS X 0201.
        0x05 => Text(Charset::Jis0201),
        0x06 => Text(Charset::Iso8859_5),
        0x07 => Text(Charset::Iso8859_8),
        0x08 => Text(Charset::Utf16Be),
        0x09 => Unsupported("pictogram encoding"),
        0x0A => Unsupported("ISO-2022-JP (music codes)"),
        0x0D => Unsupported("extended Kanji JIS X 0212"),
        0x0E => Unsupported("KS C 5601"),
        0x0B | 0x0C | 0x0F => Unsupported("reserved data_coding"),
        // General data coding (00xx xxxx) and automatic deletion (01xx xxxx):
        // bit 5 = compressed, bits 3..2 = alphabet.
        0x10..=0x7F => {
            if dcs & 0x20 != 0 {
                Unsupported("compressed text (TS 23.042)")
            } else {
                match (dcs >> 2) & 0x03 {
                    0 => Gsm7,
                    1 => Binary,
                    2 => Text(Charset::Utf16Be),
                    _ => Unsupported("reserved alphabet"),
                }
            }
        }
        0x80..=0xBF => Unsupported("reserved coding group"),
        // Message waiting indication groups: discard / store (GSM 7-bit),
        // store (UCS-2).
        0xC0..=0xDF => Gsm7,
        0xE0..=0xEF => Text(Charset::Utf16Be),
        // Data coding / message class: bit 2 = 8-bit data, else GSM 7-bit.
        0xF0..=0xFF => {
            if dcs & 0x04 != 0 {
                Binary
            } else {
                Gsm7
            }
        }
    }
}

/// Options for decoding GSM 7-bit short messages.
#[derive(Debug, Clone, Copy, Default)]
pub struct GsmDecode {
    /// Septets packed 8 per 7 octets rather than one per octet.
    pub packed: bool,
    /// Bits to skip before the first septet (after a UDH, packed only).
    pub fill_bits: u8,
    pub alphabet: Option<Alphabet>,
}

/// Ordered (data_coding, charset) list of S8.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chain {
    entries: Vec<(u8, Charset)>,
}

/// The seed's default chain (default-advanced-config.json "charsets").
pub const DEFAULT_CHAIN: &[(u8, Charset)] = &[
    (0, Charset::Gsm),
    (1, Charset::Ascii),
    (2, Charset::Gsm),
    (3, Charset::Latin1),
    (5, Charset::Jis0201),
    (6, Charset::Iso8859_5),
    (7, Charset::Iso8859_8),
    (8, Charset::Utf16Be),
];

impl Default for Chain {
    fn default() -> Self {
        Chain {
            entries: DEFAULT_CHAIN.to_vec(),
        }
    }
}

impl Chain {
    pub fn from_entries(entries: Vec<(u8, Charset)>) -> Result<Chain> {
        if entries.is_empty() {
            return Err(CodecError::new(
                status::ESME_RSUBMITFAIL,
                "charset",
                "the charset chain is empty",
            ));
        }
        Ok(Chain { entries })
    }

    /// A chain from configured (dcs, name) pairs.
    pub fn from_names<'a>(entries: impl IntoIterator<Item = (u32, &'a str)>) -> Result<Chain> {
        let mut v = Vec::new();
        for (dcs, name) in entries {
            let dcs = u8::try_from(dcs).map_err(|_| {
                CodecError::new(
                    status::ESME_RSUBMITFAIL,
                    "data_coding",
                    format!("data_coding {dcs} is not 0..255"),
                )
            })?;
            v.push((dcs, Charset::from_name(name)?));
        }
        Chain::from_entries(v)
    }

    pub fn entries(&self) -> &[(u8, Charset)] {
        &self.entries
    }

    /// The first entry whose charset represents the text.
    pub fn select(&self, text: &str) -> Result<(u8, Charset)> {
        self.entries
            .iter()
            .copied()
            .find(|(_, cs)| cs.can_encode(text))
            .ok_or_else(|| self.no_charset(text))
    }

    pub(crate) fn no_charset(&self, text: &str) -> CodecError {
        let mut missing: Vec<char> = Vec::new();
        let last = self.entries.last().map(|e| e.1).unwrap_or(Charset::Gsm);
        for c in text.chars() {
            if !last.has(c) && !missing.contains(&c) {
                missing.push(c);
                if missing.len() == 8 {
                    break;
                }
            }
        }
        CodecError::new(
            status::ESME_RSUBMITFAIL,
            "short_message",
            format!(
                "no charset of the chain represents the text (e.g. {missing:?} not in {})",
                last.name()
            ),
        )
    }

    /// How to read a data_coding value: the chain's own entry wins, else the
    /// standard meaning.
    pub fn alphabet_for(&self, dcs: u8) -> DcsAlphabet {
        match self.entries.iter().find(|(d, _)| *d == dcs) {
            Some((_, Charset::Gsm)) => DcsAlphabet::Gsm7,
            Some((_, cs)) => DcsAlphabet::Text(*cs),
            None => dcs_alphabet(dcs),
        }
    }

    /// Decodes a short message body (no UDH) by its data_coding. Errors name
    /// the data_coding.
    pub fn decode(&self, data: &[u8], dcs: u8, gsm: GsmDecode) -> Result<String> {
        match self.alphabet_for(dcs) {
            DcsAlphabet::Gsm7 => {
                let alphabet = gsm.alphabet.unwrap_or_default();
                let septets;
                let body = if gsm.packed {
                    septets = gsm::unpack_unsized(data, gsm.fill_bits);
                    &septets[..]
                } else {
                    data
                };
                alphabet.decode(body).map_err(|at| {
                    CodecError::new(
                        status::ESME_RX_P_APPN,
                        "short_message",
                        format!(
                            "data_coding 0x{dcs:02X} (GSM 7-bit): octet 0x{:02X} at offset {at} is not a septet",
                            body.get(at).copied().unwrap_or(0)
                        ),
                    )
                })
            }
            DcsAlphabet::Text(cs) => cs.decode(data).map_err(|mut e| {
                e.message = format!("data_coding 0x{dcs:02X}: {}", e.message);
                e
            }),
            DcsAlphabet::Binary => Err(CodecError::new(
                status::ESME_RX_P_APPN,
                "data_coding",
                format!("data_coding 0x{dcs:02X} carries 8-bit binary data, not text"),
            )),
            DcsAlphabet::Unsupported(what) => Err(CodecError::new(
                status::ESME_RX_P_APPN,
                "data_coding",
                format!("data_coding 0x{dcs:02X}: {what} is not supported"),
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_aliases() {
        assert_eq!(Charset::from_name("GSM7").unwrap(), Charset::Gsm);
        assert_eq!(Charset::from_name("ucs-2").unwrap(), Charset::Utf16Be);
        assert_eq!(Charset::from_name("Latin1").unwrap(), Charset::Latin1);
        assert_eq!(Charset::from_name("ia5").unwrap(), Charset::Ascii);
        let e = Charset::from_name("klingon").unwrap_err();
        assert_eq!(e.field, "charset");
        assert!(e.message.contains("klingon") && e.message.contains("JIS0201"));
        for n in charset_names() {
            assert_eq!(Charset::from_name(n).unwrap().name(), n);
        }
    }

    #[test]
    fn eight_bit_tables_round_trip() {
        for cs in [
            Charset::Ascii,
            Charset::Latin1,
            Charset::Jis0201,
            Charset::Iso8859_5,
            Charset::Iso8859_8,
        ] {
            let mut n = 0;
            for b in 0..=255u8 {
                if let Ok(s) = cs.decode(&[b]) {
                    let c = s.chars().next().unwrap();
                    assert_eq!(cs.byte_for(c), Some(b), "{cs:?} 0x{b:02X}");
                    n += 1;
                }
            }
            let expected = match cs {
                Charset::Ascii => 128,
                Charset::Latin1 | Charset::Iso8859_5 => 256,
                Charset::Jis0201 => 128 + 63,
                _ => 256 - 36,
            };
            assert_eq!(n, expected, "{cs:?}");
        }
        assert_eq!(
            Charset::Jis0201.encode("¥‾ｱ").unwrap(),
            vec![0x5C, 0x7E, 0xB1]
        );
        assert!(!Charset::Jis0201.can_encode("\\"));
        assert_eq!(
            Charset::Iso8859_5.encode("Жё№").unwrap(),
            vec![0xB6, 0xF1, 0xF0]
        );
        assert_eq!(
            Charset::Iso8859_8.encode("שלום").unwrap(),
            vec![0xF9, 0xEC, 0xE5, 0xED]
        );
    }

    #[test]
    fn utf16_surrogates() {
        let b = Charset::Utf16Be.encode("a😀").unwrap();
        assert_eq!(b, vec![0x00, 0x61, 0xD8, 0x3D, 0xDE, 0x00]);
        assert_eq!(Charset::Utf16Be.decode(&b).unwrap(), "a😀");
        assert_eq!(
            Charset::Utf16Be.decode(&[0xD8, 0x3D, 0x00, 0x61]).unwrap(),
            "\u{FFFD}a"
        );
        assert!(Charset::Utf16Be.decode(&[0x00]).is_err());
    }

    #[test]
    fn chain_select_and_decode() {
        let c = Chain::default();
        assert_eq!(c.select("hello").unwrap(), (0, Charset::Gsm));
        assert_eq!(c.select("hello `").unwrap(), (1, Charset::Ascii));
        assert_eq!(c.select("ça").unwrap(), (3, Charset::Latin1));
        assert_eq!(c.select("ｱ").unwrap(), (5, Charset::Jis0201));
        assert_eq!(c.select("Привет").unwrap(), (6, Charset::Iso8859_5));
        assert_eq!(c.select("שלום").unwrap(), (7, Charset::Iso8859_8));
        assert_eq!(c.select("😀").unwrap(), (8, Charset::Utf16Be));
        let g = GsmDecode::default();
        assert_eq!(c.decode(&[0x48, 0x69], 0, g).unwrap(), "Hi");
        assert_eq!(c.decode(&[0x00, 0x48], 8, g).unwrap(), "H");
        assert_eq!(c.decode(&[0x00, 0x48], 0x18, g).unwrap(), "H");
        assert_eq!(c.decode(&[0x48, 0x69], 0xF0, g).unwrap(), "Hi");
        assert_eq!(c.decode(&[0xE9], 3, g).unwrap(), "é");
        let e = c.decode(&[0x01], 4, g).unwrap_err();
        assert_eq!(e.field, "data_coding");
        assert!(e.message.contains("0x04"));
        let e = c.decode(&[0x80], 0, g).unwrap_err();
        assert!(e.message.contains("0x00"));
        assert!(c.decode(&[0x00], 0xF4, g).is_err());
        assert!(c.decode(&[0x00], 0x90, g).is_err());
        // The chain's entry overrides the standard meaning of the dcs.
        let latin = Chain::from_names([(0, "latin1")]).unwrap();
        assert_eq!(latin.decode(&[0xE9], 0, g).unwrap(), "é");
        assert!(Chain::from_names([(300, "gsm")]).is_err());
        assert!(Chain::from_names([(0, "nope")]).is_err());
    }

    #[test]
    fn every_dcs_is_classified_without_panic() {
        let c = Chain::default();
        for dcs in 0..=255u8 {
            let _ = c.decode(&[0x41, 0x00, 0xFF], dcs, GsmDecode::default());
        }
    }
}
