//! `SmallBytes<N>`: an octet string stored inline up to `N` octets, on the
//! heap beyond.
//!
//! Decoding a PDU used to allocate once per C-Octet string, once for
//! short_message and once per TLV value. The spec bounds almost all of them
//! to a few dozen octets (addresses 21, times 17, service_type 6 with their
//! NUL; sm_length 254), so they fit inline and the common PDU allocates only
//! its body box. Longer values (message_payload, a 64-octet data_sm address,
//! or an over-long value the encoder is about to refuse) spill to a `Vec`,
//! so any value can still be stored and behaviour does not depend on where
//! the octets live. Equality, ordering of fields and hashing look at the
//! content only, exactly like the `Vec<u8>` this replaces.
//!
//! Safe code only: the inline buffer is a plain array and every read of it
//! is a checked slice.

use std::fmt;
use std::hash::{Hash, Hasher};
use std::ops::Deref;

#[derive(Clone)]
enum Repr<const N: usize> {
    /// `len <= N` always holds; reads still go through `get`.
    Inline { len: u8, buf: [u8; N] },
    Heap(Vec<u8>),
}

#[derive(Clone)]
pub struct SmallBytes<const N: usize>(Repr<N>);

impl<const N: usize> SmallBytes<N> {
    /// The length is kept in one octet.
    const FITS_U8: () = assert!(N <= u8::MAX as usize, "SmallBytes capacity must fit a u8");

    pub const fn new() -> Self {
        #[allow(clippy::let_unit_value)]
        let () = Self::FITS_U8;
        SmallBytes(Repr::Inline { len: 0, buf: [0; N] })
    }

    pub fn from_slice(s: &[u8]) -> Self {
        let mut b = Self::new();
        b.set(s);
        b
    }

    /// Replaces the content in place (the decoder's path: no move of the
    /// inline buffer, no allocation when `s` fits).
    #[inline]
    pub fn set(&mut self, s: &[u8]) {
        match (u8::try_from(s.len()), &mut self.0) {
            (Ok(n), Repr::Inline { len, buf }) if s.len() <= N => {
                if let Some(dst) = buf.get_mut(..s.len()) {
                    dst.copy_from_slice(s);
                    *len = n;
                }
            }
            (Ok(_), _) if s.len() <= N => {
                let mut buf = [0; N];
                if let Some(dst) = buf.get_mut(..s.len()) {
                    dst.copy_from_slice(s);
                }
                self.0 = Repr::Inline { len: s.len() as u8, buf };
            }
            (_, Repr::Heap(v)) => {
                v.clear();
                v.extend_from_slice(s);
            }
            _ => self.0 = Repr::Heap(s.to_vec()),
        }
    }

    #[inline]
    pub fn as_slice(&self) -> &[u8] {
        match &self.0 {
            Repr::Inline { len, buf } => buf.get(..usize::from(*len)).unwrap_or(&[]),
            Repr::Heap(v) => v,
        }
    }

    pub fn into_vec(self) -> Vec<u8> {
        match self.0 {
            Repr::Heap(v) => v,
            Repr::Inline { .. } => self.as_slice().to_vec(),
        }
    }

    /// Whether the content lives inline (for tests of the allocation claim).
    pub fn is_inline(&self) -> bool {
        matches!(self.0, Repr::Inline { .. })
    }
}

impl<const N: usize> Default for SmallBytes<N> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const N: usize> Deref for SmallBytes<N> {
    type Target = [u8];
    #[inline]
    fn deref(&self) -> &[u8] {
        self.as_slice()
    }
}

impl<const N: usize> AsRef<[u8]> for SmallBytes<N> {
    fn as_ref(&self) -> &[u8] {
        self.as_slice()
    }
}

impl<const N: usize> fmt::Debug for SmallBytes<N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.as_slice().fmt(f)
    }
}

impl<const N: usize> PartialEq for SmallBytes<N> {
    fn eq(&self, o: &Self) -> bool {
        self.as_slice() == o.as_slice()
    }
}

impl<const N: usize> Eq for SmallBytes<N> {}

impl<const N: usize> Hash for SmallBytes<N> {
    /// Same as the slice's (and so a `Vec<u8>`'s) hash.
    fn hash<H: Hasher>(&self, h: &mut H) {
        self.as_slice().hash(h)
    }
}

impl<const N: usize> PartialEq<[u8]> for SmallBytes<N> {
    fn eq(&self, o: &[u8]) -> bool {
        self.as_slice() == o
    }
}

impl<const N: usize> PartialEq<&[u8]> for SmallBytes<N> {
    fn eq(&self, o: &&[u8]) -> bool {
        self.as_slice() == *o
    }
}

impl<const N: usize> PartialEq<Vec<u8>> for SmallBytes<N> {
    fn eq(&self, o: &Vec<u8>) -> bool {
        self.as_slice() == o.as_slice()
    }
}

impl<const N: usize, const K: usize> PartialEq<[u8; K]> for SmallBytes<N> {
    fn eq(&self, o: &[u8; K]) -> bool {
        self.as_slice() == o
    }
}

impl<const N: usize, const K: usize> PartialEq<&[u8; K]> for SmallBytes<N> {
    fn eq(&self, o: &&[u8; K]) -> bool {
        self.as_slice() == *o
    }
}

impl<const N: usize> From<Vec<u8>> for SmallBytes<N> {
    /// Keeps the vector's buffer when it does not fit inline.
    fn from(v: Vec<u8>) -> Self {
        if v.len() <= N {
            Self::from_slice(&v)
        } else {
            SmallBytes(Repr::Heap(v))
        }
    }
}

impl<const N: usize> From<&[u8]> for SmallBytes<N> {
    fn from(s: &[u8]) -> Self {
        Self::from_slice(s)
    }
}

impl<const N: usize, const K: usize> From<&[u8; K]> for SmallBytes<N> {
    fn from(s: &[u8; K]) -> Self {
        Self::from_slice(s)
    }
}

impl<const N: usize, const K: usize> From<[u8; K]> for SmallBytes<N> {
    fn from(s: [u8; K]) -> Self {
        Self::from_slice(&s)
    }
}

impl<const N: usize> From<&str> for SmallBytes<N> {
    fn from(s: &str) -> Self {
        Self::from_slice(s.as_bytes())
    }
}

impl<const N: usize> From<SmallBytes<N>> for Vec<u8> {
    fn from(b: SmallBytes<N>) -> Vec<u8> {
        b.into_vec()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::hash_map::DefaultHasher;

    fn hash_of<T: Hash + ?Sized>(t: &T) -> u64 {
        let mut h = DefaultHasher::new();
        t.hash(&mut h);
        h.finish()
    }

    #[test]
    fn inline_up_to_capacity_then_heap() {
        let mut b = SmallBytes::<4>::new();
        assert!(b.is_empty() && b.is_inline());
        for n in 0..=10usize {
            let v: Vec<u8> = (0..n as u8).collect();
            b.set(&v);
            assert_eq!(b, v);
            assert_eq!(b.is_inline(), n <= 4, "len {n}");
            assert_eq!(SmallBytes::<4>::from(v.clone()), v);
            assert_eq!(SmallBytes::<4>::from_slice(&v).into_vec(), v);
        }
        // Back from heap to a short value, and heap to heap.
        b.set(b"ab");
        assert_eq!(b, b"ab");
        b.set(&[7; 9]);
        b.set(&[8; 12]);
        assert_eq!(b, [8u8; 12]);
    }

    #[test]
    fn equality_and_hash_ignore_storage() {
        let long = vec![1u8; 300];
        let a = SmallBytes::<254>::from(long.clone());
        assert!(!a.is_inline());
        assert_eq!(a, long);
        let x = SmallBytes::<8>::from(&b"abc"[..]);
        let mut y = SmallBytes::<8>::from(vec![0; 20]);
        y.set(b"abc");
        assert_eq!(x, y);
        assert_eq!(hash_of(&x), hash_of(&y));
        assert_eq!(hash_of(&x), hash_of(&b"abc".to_vec()));
        assert_eq!(format!("{x:?}"), format!("{:?}", b"abc".to_vec()));
    }

    #[test]
    fn full_u8_capacity() {
        let v = vec![0xAB; 255];
        let b = SmallBytes::<255>::from_slice(&v);
        assert!(b.is_inline());
        assert_eq!(b.len(), 255);
    }
}
