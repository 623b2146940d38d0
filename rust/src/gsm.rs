//! GSM 7-bit alphabets of 3GPP TS 23.038: the default alphabet (6.2.1), its
//! extension table (6.2.1.1) and the national language locking / single shift
//! tables of annex A, in unpacked (one septet per octet, the usual SMPP
//! data_coding 0 form) and packed (6.1.2.1.1) forms.
//!
//! Tables are written as the spec prints them (a locking table as 8 rows of
//! 16 characters, a single shift table as its few assigned positions); the
//! reverse maps used for "can this text be represented" are derived from them
//! at compile time, so lookups are one array index for Latin text and a
//! binary search over at most 128 entries otherwise.

use crate::error::{CodecError, Result};
use crate::status;

/// The escape to the extension (single shift) table, TS 23.038 6.2.1.1.
pub const ESC: u8 = 0x1B;
/// Carriage return, used as padding when 7 spare bits end a packed message
/// (TS 23.038 6.1.2.3.1).
pub const CR: u8 = 0x0D;
/// Septets are 7 bits: values 0x00..=0x7F.
pub const SEPTET_MAX: u8 = 0x7F;

/// National language identifiers, TS 23.038 6.2.1.2.4.
pub const LANG_TURKISH: u8 = 1;
pub const LANG_SPANISH: u8 = 2;
pub const LANG_PORTUGUESE: u8 = 3;

/// Marks an unassigned position in a table.
const NONE: u32 = u32::MAX;
/// Marks "not in this table" in the reverse maps.
const ABSENT: u8 = 0xFF;

/// One 128-entry table (a locking shift table or a single shift table) with
/// its reverse map.
pub struct Table {
    to_char: [u32; 128],
    /// Code point < 256 -> septet, ABSENT if not present.
    low: [u8; 256],
    /// (code point, septet) for code points >= 256, sorted by code point.
    high: [(u32, u8); 128],
    high_len: usize,
    /// Bit (cp % 256) set for every code point in `high`: rejects most
    /// non-Latin text (Cyrillic, CJK, emoji) without a search.
    high_bloom: [u64; 4],
}

impl Table {
    const fn build(to_char: [u32; 128]) -> Table {
        let mut low = [ABSENT; 256];
        let mut high = [(u32::MAX, 0u8); 128];
        let mut high_len = 0;
        let mut s = 0;
        while s < 128 {
            let c = to_char[s];
            if c != NONE {
                if c < 256 {
                    // First position wins should a character appear twice.
                    if low[c as usize] == ABSENT {
                        low[c as usize] = s as u8;
                    }
                } else {
                    // Insertion sort: tables are tiny and this runs at compile time.
                    let mut i = high_len;
                    while i > 0 && high[i - 1].0 > c {
                        high[i] = high[i - 1];
                        i -= 1;
                    }
                    if !(i > 0 && high[i - 1].0 == c) {
                        high[i] = (c, s as u8);
                        high_len += 1;
                    } else {
                        // Duplicate: undo the shift.
                        while i < high_len {
                            high[i] = high[i + 1];
                            i += 1;
                        }
                    }
                }
            }
            s += 1;
        }
        let mut high_bloom = [0u64; 4];
        let mut i = 0;
        while i < high_len {
            let b = (high[i].0 % 256) as usize;
            high_bloom[b / 64] |= 1 << (b % 64);
            i += 1;
        }
        Table {
            to_char,
            low,
            high,
            high_len,
            high_bloom,
        }
    }

    /// The septet for a character, if this table has it.
    #[inline]
    pub fn septet(&self, c: char) -> Option<u8> {
        let cp = c as u32;
        if cp < 256 {
            let s = self.low[cp as usize];
            return if s == ABSENT { None } else { Some(s) };
        }
        let b = (cp % 256) as usize;
        if self.high_bloom[b / 64] & (1 << (b % 64)) == 0 {
            return None;
        }
        let high = &self.high[..self.high_len];
        high.binary_search_by_key(&cp, |e| e.0)
            .ok()
            .map(|i| high[i].1)
    }

    /// The character at a septet, if assigned.
    #[inline]
    pub fn char_at(&self, septet: u8) -> Option<char> {
        let cp = *self.to_char.get(septet as usize)?;
        if cp == NONE {
            None
        } else {
            char::from_u32(cp)
        }
    }
}

/// Decodes one UTF-8 scalar starting at `i` (const-evaluable).
const fn utf8_at(b: &[u8], i: usize) -> (u32, usize) {
    let x = b[i] as u32;
    if x < 0x80 {
        (x, 1)
    } else if x < 0xE0 {
        (((x & 0x1F) << 6) | (b[i + 1] as u32 & 0x3F), 2)
    } else if x < 0xF0 {
        (
            ((x & 0x0F) << 12) | ((b[i + 1] as u32 & 0x3F) << 6) | (b[i + 2] as u32 & 0x3F),
            3,
        )
    } else {
        (
            ((x & 0x07) << 18)
                | ((b[i + 1] as u32 & 0x3F) << 12)
                | ((b[i + 2] as u32 & 0x3F) << 6)
                | (b[i + 3] as u32 & 0x3F),
            4,
        )
    }
}

/// A locking shift table from its 8 rows of 16 characters (septets 0x00..0x7F
/// in order). The escape position 0x1B is written as "\x1b" and left
/// unassigned. A row of the wrong length fails the build.
const fn locking(rows: [&str; 8]) -> [u32; 128] {
    let mut out = [NONE; 128];
    let mut r = 0;
    while r < 8 {
        let b = rows[r].as_bytes();
        let mut i = 0;
        let mut n = 0;
        while i < b.len() {
            let (cp, len) = utf8_at(b, i);
            assert!(n < 16, "locking table row longer than 16 characters");
            let s = r * 16 + n;
            if s != ESC as usize {
                out[s] = cp;
            }
            i += len;
            n += 1;
        }
        assert!(n == 16, "locking table row shorter than 16 characters");
        r += 1;
    }
    out
}

/// A single shift table from its assigned (septet, character) positions.
const fn single(entries: &[(u8, char)]) -> [u32; 128] {
    let mut out = [NONE; 128];
    let mut i = 0;
    while i < entries.len() {
        let (s, c) = entries[i];
        assert!(s <= SEPTET_MAX && s != ESC, "bad single shift position");
        out[s as usize] = c as u32;
        i += 1;
    }
    out
}

/// TS 23.038 6.2.1: the GSM 7 bit default alphabet.
const DEFAULT_CHARS: [u32; 128] = locking([
    "@£$¥èéùìòÇ\nØø\rÅå",
    "Δ_ΦΓΛΩΠΨΣΘΞ\x1bÆæßÉ",
    " !\"#¤%&'()*+,-./",
    "0123456789:;<=>?",
    "¡ABCDEFGHIJKLMNO",
    "PQRSTUVWXYZÄÖÑÜ§",
    "¿abcdefghijklmno",
    "pqrstuvwxyzäöñüà",
]);
pub static DEFAULT: Table = Table::build(DEFAULT_CHARS);

/// Positions every single shift table of annex A.2 shares with the default
/// extension table (6.2.1.1): form feed, ^ { } \ [ ~ ] |.
macro_rules! common_shift {
    ($($extra:expr),* $(,)?) => {
        &[
            (0x0A, '\x0C'), (0x14, '^'), (0x28, '{'), (0x29, '}'), (0x2F, '\\'),
            (0x3C, '['), (0x3D, '~'), (0x3E, ']'), (0x40, '|'),
            $($extra),*
        ]
    };
}

/// TS 23.038 6.2.1.1: the default alphabet extension table.
const DEFAULT_EXT_CHARS: [u32; 128] = single(common_shift![(0x65, '€')]);
pub static DEFAULT_EXT: Table = Table::build(DEFAULT_EXT_CHARS);

/// TS 23.038 A.2.1: Turkish national language single shift table.
const TURKISH_SINGLE_CHARS: [u32; 128] = single(common_shift![
    (0x47, 'Ğ'),
    (0x49, 'İ'),
    (0x53, 'Ş'),
    (0x63, 'ç'),
    (0x65, '€'),
    (0x67, 'ğ'),
    (0x69, 'ı'),
    (0x73, 'ş'),
]);
pub static TURKISH_SINGLE: Table = Table::build(TURKISH_SINGLE_CHARS);

/// TS 23.038 A.3.1: Turkish national language locking shift table.
const TURKISH_LOCKING_CHARS: [u32; 128] = locking([
    "@£$¥€éùıòÇ\nĞğ\rÅå",
    "Δ_ΦΓΛΩΠΨΣΘΞ\x1bŞşßÉ",
    " !\"#¤%&'()*+,-./",
    "0123456789:;<=>?",
    "İABCDEFGHIJKLMNO",
    "PQRSTUVWXYZÄÖÑÜ§",
    "çabcdefghijklmno",
    "pqrstuvwxyzäöñüà",
]);
pub static TURKISH_LOCKING: Table = Table::build(TURKISH_LOCKING_CHARS);

/// TS 23.038 A.2.2: Spanish national language single shift table (Spanish
/// has no locking shift table; A.3.2 is reserved).
const SPANISH_SINGLE_CHARS: [u32; 128] = single(common_shift![
    (0x09, 'ç'),
    (0x41, 'Á'),
    (0x49, 'Í'),
    (0x4F, 'Ó'),
    (0x55, 'Ú'),
    (0x61, 'á'),
    (0x65, '€'),
    (0x69, 'í'),
    (0x6F, 'ó'),
    (0x75, 'ú'),
]);
pub static SPANISH_SINGLE: Table = Table::build(SPANISH_SINGLE_CHARS);

/// TS 23.038 A.2.3: Portuguese national language single shift table.
const PORTUGUESE_SINGLE_CHARS: [u32; 128] = single(common_shift![
    (0x05, 'ê'),
    (0x09, 'ç'),
    (0x0B, 'Ô'),
    (0x0C, 'ô'),
    (0x0E, 'Á'),
    (0x0F, 'á'),
    (0x12, 'Φ'),
    (0x13, 'Γ'),
    (0x15, 'Ω'),
    (0x16, 'Π'),
    (0x17, 'Ψ'),
    (0x18, 'Σ'),
    (0x19, 'Θ'),
    (0x1F, 'Ê'),
    (0x41, 'À'),
    (0x49, 'Í'),
    (0x4F, 'Ó'),
    (0x55, 'Ú'),
    (0x5B, 'Ã'),
    (0x5C, 'Õ'),
    (0x61, 'Â'),
    (0x65, '€'),
    (0x69, 'í'),
    (0x6F, 'ó'),
    (0x75, 'ú'),
    (0x7B, 'ã'),
    (0x7C, 'õ'),
    (0x7F, 'â'),
]);
pub static PORTUGUESE_SINGLE: Table = Table::build(PORTUGUESE_SINGLE_CHARS);

/// TS 23.038 A.3.3: Portuguese national language locking shift table.
const PORTUGUESE_LOCKING_CHARS: [u32; 128] = locking([
    "@£$¥êéúíóç\nÔô\rÁá",
    "Δ_ªÇÀ∞^\\€Ó|\x1bÂâÊÉ",
    " !\"#º%&'()*+,-./",
    "0123456789:;<=>?",
    "ÍABCDEFGHIJKLMNO",
    "PQRSTUVWXYZÃÕÚÜ§",
    "~abcdefghijklmno",
    "pqrstuvwxyzãõ`üà",
]);
pub static PORTUGUESE_LOCKING: Table = Table::build(PORTUGUESE_LOCKING_CHARS);

/// The locking shift table for a national language identifier, if shipped.
pub fn locking_table(lang: u8) -> Option<&'static Table> {
    match lang {
        0 => Some(&DEFAULT),
        LANG_TURKISH => Some(&TURKISH_LOCKING),
        LANG_PORTUGUESE => Some(&PORTUGUESE_LOCKING),
        _ => None,
    }
}

/// The single shift table for a national language identifier, if shipped.
pub fn single_table(lang: u8) -> Option<&'static Table> {
    match lang {
        0 => Some(&DEFAULT_EXT),
        LANG_TURKISH => Some(&TURKISH_SINGLE),
        LANG_SPANISH => Some(&SPANISH_SINGLE),
        LANG_PORTUGUESE => Some(&PORTUGUESE_SINGLE),
        _ => None,
    }
}

/// Combined lookup for code points below 256 (all of ASCII and Latin-1, where
/// almost all GSM text lives): one septet, ESCAPED | septet, or MISSING.
const ESCAPED: u16 = 0x100;
const MISSING: u16 = 0xFFFF;
type LatinMap = [u16; 256];

const fn latin_map(locking: &[u32; 128], single: &[u32; 128]) -> LatinMap {
    let mut m = [MISSING; 256];
    // Single shift first so that the locking table (one septet) wins.
    let mut s = 0;
    while s < 128 {
        let c = single[s];
        if c < 256 && m[c as usize] == MISSING {
            m[c as usize] = ESCAPED | s as u16;
        }
        s += 1;
    }
    let mut s = 0;
    while s < 128 {
        let c = locking[s];
        if c < 256 && (m[c as usize] & ESCAPED != 0 || m[c as usize] == MISSING) {
            m[c as usize] = s as u16;
        }
        s += 1;
    }
    m
}

const LOCKINGS: [&[u32; 128]; 3] = [
    &DEFAULT_CHARS,
    &TURKISH_LOCKING_CHARS,
    &PORTUGUESE_LOCKING_CHARS,
];
const SINGLES: [&[u32; 128]; 4] = [
    &DEFAULT_EXT_CHARS,
    &TURKISH_SINGLE_CHARS,
    &SPANISH_SINGLE_CHARS,
    &PORTUGUESE_SINGLE_CHARS,
];

const fn all_latin_maps() -> [[LatinMap; 4]; 3] {
    let mut out = [[[MISSING; 256]; 4]; 3];
    let mut l = 0;
    while l < 3 {
        let mut s = 0;
        while s < 4 {
            out[l][s] = latin_map(LOCKINGS[l], SINGLES[s]);
            s += 1;
        }
        l += 1;
    }
    out
}

/// Every shipped (locking, single) pair, indexed as in LOCKINGS / SINGLES.
static LATIN_MAPS: [[LatinMap; 4]; 3] = all_latin_maps();

fn latin_index(locking_lang: u8, single_lang: u8) -> Option<(usize, usize)> {
    let l = match locking_lang {
        0 => 0,
        LANG_TURKISH => 1,
        LANG_PORTUGUESE => 2,
        _ => return None,
    };
    let s = match single_lang {
        0 => 0,
        LANG_TURKISH => 1,
        LANG_SPANISH => 2,
        LANG_PORTUGUESE => 3,
        _ => return None,
    };
    Some((l, s))
}

/// Language identifiers for which this build has at least one table.
pub const SUPPORTED_LANGUAGES: &[u8] = &[LANG_TURKISH, LANG_SPANISH, LANG_PORTUGUESE];

/// A character's encoding in an alphabet: one septet, or ESC + septet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Code {
    One(u8),
    Escaped(u8),
}

impl Code {
    #[inline]
    pub fn septets(self) -> usize {
        match self {
            Code::One(_) => 1,
            Code::Escaped(_) => 2,
        }
    }
}

/// A GSM 7-bit alphabet in effect: a locking shift table plus a single shift
/// table, each identified by its national language id (0 = default).
#[derive(Clone, Copy)]
pub struct Alphabet {
    pub locking_lang: u8,
    pub single_lang: u8,
    locking: &'static Table,
    single: &'static Table,
    latin: &'static LatinMap,
}

impl Default for Alphabet {
    fn default() -> Self {
        Alphabet {
            locking_lang: 0,
            single_lang: 0,
            locking: &DEFAULT,
            single: &DEFAULT_EXT,
            latin: &LATIN_MAPS[0][0],
        }
    }
}

impl std::fmt::Debug for Alphabet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Alphabet(locking={}, single={})",
            self.locking_lang, self.single_lang
        )
    }
}

impl Alphabet {
    /// The alphabet for the given locking / single shift languages; None if a
    /// requested table is not shipped (Spanish locking is reserved in the spec).
    pub fn new(locking_lang: u8, single_lang: u8) -> Option<Alphabet> {
        let (l, s) = latin_index(locking_lang, single_lang)?;
        Some(Alphabet {
            locking_lang,
            single_lang,
            locking: locking_table(locking_lang)?,
            single: single_table(single_lang)?,
            latin: &LATIN_MAPS[l][s],
        })
    }

    /// For decoding: TS 23.038 6.2.1.2.4 has a receiver that lacks a table
    /// fall back to the default one rather than fail.
    pub fn for_decoding(locking_lang: Option<u8>, single_lang: Option<u8>) -> Alphabet {
        let l = locking_lang
            .filter(|l| locking_table(*l).is_some())
            .unwrap_or(0);
        let s = single_lang
            .filter(|s| single_table(*s).is_some())
            .unwrap_or(0);
        Alphabet::new(l, s).unwrap_or_default()
    }

    /// How a character encodes, preferring the locking table (one septet).
    #[inline]
    pub fn code(&self, c: char) -> Option<Code> {
        let cp = c as u32;
        if cp < 256 {
            return match self.latin[cp as usize] {
                MISSING => None,
                v if v & ESCAPED != 0 => Some(Code::Escaped(v as u8)),
                v => Some(Code::One(v as u8)),
            };
        }
        if let Some(s) = self.locking.septet(c) {
            return Some(Code::One(s));
        }
        self.single.septet(c).map(Code::Escaped)
    }

    /// Septets needed for the text, or None if some character is missing.
    pub fn septet_len(&self, text: &str) -> Option<usize> {
        if text.is_ascii() {
            let mut n = 0;
            for &b in text.as_bytes() {
                match self.latin[b as usize] {
                    MISSING => return None,
                    v => n += 1 + (v >> 8) as usize,
                }
            }
            return Some(n);
        }
        let mut n = 0;
        for c in text.chars() {
            n += self.code(c)?.septets();
        }
        Some(n)
    }

    pub fn can_encode(&self, text: &str) -> bool {
        self.septet_len(text).is_some()
    }

    /// Appends the unpacked septets of one character.
    #[inline]
    pub fn push_code(out: &mut Vec<u8>, code: Code) {
        match code {
            Code::One(s) => out.push(s),
            Code::Escaped(s) => {
                out.push(ESC);
                out.push(s);
            }
        }
    }

    /// Appends unpacked septets (one per octet); the error names the first
    /// character the alphabet lacks (`out` then holds a partial encoding).
    pub fn encode_into(&self, text: &str, out: &mut Vec<u8>) -> std::result::Result<(), char> {
        out.reserve(text.len());
        if text.is_ascii() {
            // ASCII fast path: one table index per byte, no UTF-8 decoding.
            for &b in text.as_bytes() {
                match self.latin[b as usize] {
                    MISSING => return Err(b as char),
                    v if v & ESCAPED != 0 => {
                        out.push(ESC);
                        out.push(v as u8);
                    }
                    v => out.push(v as u8),
                }
            }
            return Ok(());
        }
        for c in text.chars() {
            Self::push_code(out, self.code(c).ok_or(c)?);
        }
        Ok(())
    }

    /// Unpacked septets (one per octet); the error names the first character
    /// the alphabet lacks.
    pub fn encode(&self, text: &str) -> std::result::Result<Vec<u8>, char> {
        let mut out = Vec::new();
        self.encode_into(text, &mut out)?;
        Ok(out)
    }

    /// Decodes unpacked septets. An escape followed by an unassigned position
    /// shows the locking table's character (TS 23.038 6.2.1.1); ESC ESC is
    /// reserved and shown as a space; a lone trailing escape is dropped.
    /// Octets above 0x7F are not septets: the error gives their offset.
    pub fn decode(&self, septets: &[u8]) -> std::result::Result<String, usize> {
        let mut out = String::with_capacity(septets.len());
        let mut i = 0;
        while i < septets.len() {
            let s = septets[i];
            if s > SEPTET_MAX {
                return Err(i);
            }
            if s == ESC {
                match septets.get(i + 1) {
                    None => break,
                    Some(&n) if n > SEPTET_MAX => return Err(i + 1),
                    Some(&ESC) => out.push(' '),
                    Some(&n) => {
                        let c = self.single.char_at(n).or_else(|| self.locking.char_at(n));
                        out.push(c.unwrap_or(' '));
                    }
                }
                i += 2;
                continue;
            }
            // Every locking position but ESC is assigned.
            out.push(self.locking.char_at(s).unwrap_or(' '));
            i += 1;
        }
        Ok(out)
    }
}

/// Packs septets 7 bits each, LSB first (TS 23.038 6.1.2.1.1), after
/// `fill_bits` zero bits (TS 23.040 9.2.3.24: fill bits align the first septet
/// after a UDH on a septet boundary). Trailing spare bits are zero.
pub fn pack(septets: &[u8], fill_bits: u8) -> Vec<u8> {
    let fill = (fill_bits % 7) as usize;
    let total_bits = fill + septets.len() * 7;
    let mut out = Vec::with_capacity(total_bits.div_ceil(8));
    let mut acc: u32 = 0;
    let mut nbits = fill;
    for &s in septets {
        acc |= ((s & SEPTET_MAX) as u32) << nbits;
        nbits += 7;
        while nbits >= 8 {
            out.push(acc as u8);
            acc >>= 8;
            nbits -= 8;
        }
    }
    if nbits > 0 {
        out.push(acc as u8);
    }
    out
}

/// Like [`pack`], but when exactly 7 spare bits would end the last octet they
/// hold a CR instead of zeros, so a receiver that derives the septet count
/// from the octet count does not see a trailing '@' (TS 23.038 6.1.2.3.1).
pub fn pack_padded(septets: &[u8], fill_bits: u8) -> Vec<u8> {
    let fill = (fill_bits % 7) as usize;
    let mut out = pack(septets, fill_bits);
    if (fill + septets.len() * 7) % 8 == 1 {
        if let Some(last) = out.last_mut() {
            *last |= CR << 1;
        }
    }
    out
}

/// Unpacks `count` septets (or as many as the octets hold when None) starting
/// after `fill_bits` bits. Asking for more septets than the data holds is an
/// error, never a panic.
pub fn unpack(data: &[u8], count: Option<usize>, fill_bits: u8) -> Result<Vec<u8>> {
    let fill = (fill_bits % 7) as usize;
    let avail_bits = (data.len() * 8).saturating_sub(fill);
    let max = avail_bits / 7;
    let count = match count {
        None => max,
        Some(n) if n <= max => n,
        Some(n) => {
            return Err(CodecError::new(
                status::ESME_RINVMSGLEN,
                "short_message",
                format!(
                    "{n} septets asked for, but {} octets hold only {max}",
                    data.len()
                ),
            ))
        }
    };
    let mut out = Vec::with_capacity(count);
    let mut acc: u32 = 0;
    let mut nbits = 0usize;
    let mut bytes = data.iter();
    // Skip the fill bits by priming the accumulator.
    if fill > 0 {
        if let Some(&b) = bytes.next() {
            acc = (b as u32) >> fill;
            nbits = 8 - fill;
        }
    }
    while out.len() < count {
        if nbits < 7 {
            match bytes.next() {
                Some(&b) => {
                    acc |= (b as u32) << nbits;
                    nbits += 8;
                }
                None => break,
            }
        }
        out.push((acc & 0x7F) as u8);
        acc >>= 7;
        nbits -= 7;
    }
    Ok(out)
}

/// Unpacks a packed message whose septet count is not known (SMPP carries
/// octets): a final CR that exactly fills the last octet is the padding of
/// TS 23.038 6.1.2.3.1 and is dropped.
pub fn unpack_unsized(data: &[u8], fill_bits: u8) -> Vec<u8> {
    let fill = (fill_bits % 7) as usize;
    let bits = (data.len() * 8).saturating_sub(fill);
    let mut septets = unpack(data, None, fill_bits).unwrap_or_default();
    if bits % 7 == 0 && septets.last() == Some(&CR) {
        septets.pop();
    }
    septets
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_table_positions() {
        assert_eq!(DEFAULT.septet('@'), Some(0x00));
        assert_eq!(DEFAULT.septet('£'), Some(0x01));
        assert_eq!(DEFAULT.septet('Ç'), Some(0x09));
        assert_eq!(DEFAULT.septet('ç'), None);
        assert_eq!(DEFAULT.septet('Ξ'), Some(0x1A));
        assert_eq!(DEFAULT.septet('É'), Some(0x1F));
        assert_eq!(DEFAULT.septet('¤'), Some(0x24));
        assert_eq!(DEFAULT.septet('¡'), Some(0x40));
        assert_eq!(DEFAULT.septet('§'), Some(0x5F));
        assert_eq!(DEFAULT.septet('¿'), Some(0x60));
        assert_eq!(DEFAULT.septet('à'), Some(0x7F));
        assert_eq!(DEFAULT.char_at(ESC), None);
        assert_eq!(DEFAULT_EXT.septet('€'), Some(0x65));
        assert_eq!(DEFAULT_EXT.septet('\x0C'), Some(0x0A));
        for s in 0..128u8 {
            if s != ESC {
                let c = DEFAULT.char_at(s).unwrap();
                assert_eq!(DEFAULT.septet(c), Some(s));
            }
        }
    }

    #[test]
    fn national_tables_are_bijective() {
        for t in [&DEFAULT, &TURKISH_LOCKING, &PORTUGUESE_LOCKING] {
            let mut n = 0;
            for s in 0..128u8 {
                if let Some(c) = t.char_at(s) {
                    assert_eq!(t.septet(c), Some(s));
                    n += 1;
                }
            }
            assert_eq!(n, 127);
        }
        for t in [
            &DEFAULT_EXT,
            &TURKISH_SINGLE,
            &SPANISH_SINGLE,
            &PORTUGUESE_SINGLE,
        ] {
            for s in 0..128u8 {
                if let Some(c) = t.char_at(s) {
                    assert_eq!(t.septet(c), Some(s));
                }
            }
        }
        assert_eq!(TURKISH_LOCKING.septet('ş'), Some(0x1D));
        assert_eq!(PORTUGUESE_LOCKING.septet('∞'), Some(0x15));
        assert_eq!(PORTUGUESE_LOCKING.septet('`'), Some(0x7D));
    }

    #[test]
    fn latin_maps_agree_with_tables() {
        for l in [0, LANG_TURKISH, LANG_PORTUGUESE] {
            for s in [0, LANG_TURKISH, LANG_SPANISH, LANG_PORTUGUESE] {
                let a = Alphabet::new(l, s).unwrap();
                for cp in 0..256u32 {
                    let c = char::from_u32(cp).unwrap();
                    let slow = a
                        .locking
                        .septet(c)
                        .map(Code::One)
                        .or_else(|| a.single.septet(c).map(Code::Escaped));
                    assert_eq!(a.code(c), slow, "{l} {s} U+{cp:04X}");
                }
            }
        }
    }

    #[test]
    fn escapes_and_fallbacks() {
        let a = Alphabet::default();
        assert_eq!(a.encode("€[").unwrap(), vec![ESC, 0x65, ESC, 0x3C]);
        assert_eq!(a.encode("ç"), Err('ç'));
        assert_eq!(a.decode(&[ESC, 0x41]).unwrap(), "A");
        assert_eq!(a.decode(&[ESC, ESC]).unwrap(), " ");
        assert_eq!(a.decode(&[0x41, ESC]).unwrap(), "A");
        assert_eq!(a.decode(&[0x41, 0x80]), Err(1));
        let tr = Alphabet::new(LANG_TURKISH, LANG_TURKISH).unwrap();
        assert_eq!(tr.encode("ğ").unwrap(), vec![0x0C]);
        let es = Alphabet::new(0, LANG_SPANISH).unwrap();
        assert_eq!(es.encode("ç").unwrap(), vec![ESC, 0x09]);
        assert!(Alphabet::new(LANG_SPANISH, 0).is_none());
        assert_eq!(
            Alphabet::for_decoding(Some(LANG_SPANISH), Some(99)).locking_lang,
            0
        );
    }

    #[test]
    fn pack_known_vector() {
        // "hellohello" packed, the classic example of TS 23.038 6.1.2.1.1 users.
        let s = Alphabet::default().encode("hellohello").unwrap();
        assert_eq!(
            pack(&s, 0),
            vec![0xE8, 0x32, 0x9B, 0xFD, 0x46, 0x97, 0xD9, 0xEC, 0x37]
        );
        assert_eq!(unpack(&pack(&s, 0), Some(10), 0).unwrap(), s);
        for fill in 0..7 {
            let p = pack(&s, fill);
            assert_eq!(unpack(&p, Some(s.len()), fill).unwrap(), s);
        }
        assert!(unpack(&[0x00], Some(2), 0).is_err());
        assert_eq!(unpack(&[], None, 3).unwrap(), Vec::<u8>::new());
    }

    #[test]
    fn cr_padding() {
        // 7 septets = 49 bits -> 7 octets with 7 spare bits.
        let s = vec![0x41u8; 7];
        let p = pack_padded(&s, 0);
        assert_eq!(p.len(), 7);
        assert_eq!(p[6] >> 1, CR);
        assert_eq!(unpack_unsized(&p, 0), s);
        // 8 septets exactly fill 7 octets: nothing to strip.
        let s8 = vec![0x41u8; 8];
        assert_eq!(unpack_unsized(&pack_padded(&s8, 0), 0), s8);
    }
}
