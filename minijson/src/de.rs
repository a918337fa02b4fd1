//! Deserialization: MiniJSON bytes to any `Deserialize` type, borrowing strings and binary data
//! from the input where the target type allows.
//!
//! Every length and count is checked against the bytes that remain before anything is read or
//! reserved, containers nest at most [`DEFAULT_MAX_DEPTH`] deep unless configured otherwise, and
//! every error carries the offset at which the input went wrong.

use serde::de::{self, DeserializeSeed, IntoDeserializer, Visitor};

use crate::error::{Error, Result};
use crate::tag;

/// How deeply containers may nest unless [`Deserializer::with_max_depth`] says otherwise.
pub const DEFAULT_MAX_DEPTH: usize = 128;

/// A MiniJSON deserializer reading one value at a time from a byte slice.
///
/// ```
/// let bytes = [0x42, 0x03, 0x01, 0x81, b'x', 0x16];
/// let mut de = minijson::Deserializer::from_slice(&bytes).with_max_depth(4);
/// let (n, s): (i32, &str) = serde::Deserialize::deserialize(&mut de).unwrap();
/// assert_eq!((n, s), (1, "x"));
/// assert_eq!(de.offset(), 5); // one byte (`true`) is left
/// assert!(de.end().is_err());
/// ```
#[derive(Debug)]
pub struct Deserializer<'de> {
    input: &'de [u8],
    pos: usize,
    depth: usize,
    max_depth: usize,
}

impl<'de> Deserializer<'de> {
    /// A deserializer reading from the start of `input`.
    pub fn from_slice(input: &'de [u8]) -> Self {
        Deserializer {
            input,
            pos: 0,
            depth: 0,
            max_depth: DEFAULT_MAX_DEPTH,
        }
    }

    /// Sets how deeply lists and maps may nest; deeper input is refused with
    /// [`Error::DepthLimitExceeded`].
    pub fn with_max_depth(mut self, max_depth: usize) -> Self {
        self.max_depth = max_depth;
        self
    }

    /// How many bytes of the input have been consumed.
    pub fn offset(&self) -> usize {
        self.pos
    }

    /// Succeeds when the whole input has been consumed, fails with
    /// [`Error::TrailingBytes`] otherwise.
    pub fn end(&self) -> Result<()> {
        match self.remaining() {
            0 => Ok(()),
            remaining => Err(Error::TrailingBytes {
                offset: self.pos,
                remaining,
            }),
        }
    }

    #[inline]
    fn remaining(&self) -> usize {
        self.input.len() - self.pos
    }

    #[inline]
    fn take(&mut self, n: usize) -> Result<&'de [u8]> {
        if n > self.remaining() {
            return Err(Error::Truncated {
                offset: self.pos,
                needed: n - self.remaining(),
            });
        }
        let bytes = &self.input[self.pos..self.pos + n];
        self.pos += n;
        Ok(bytes)
    }

    #[inline]
    fn array<const N: usize>(&mut self) -> Result<[u8; N]> {
        let mut a = [0; N];
        a.copy_from_slice(self.take(N)?);
        Ok(a)
    }

    #[inline]
    fn byte(&mut self) -> Result<u8> {
        Ok(self.array::<1>()?[0])
    }

    #[inline]
    fn peek(&self) -> Result<u8> {
        self.input.get(self.pos).copied().ok_or(Error::Truncated {
            offset: self.pos,
            needed: 1,
        })
    }

    #[inline]
    fn str(&mut self, n: usize) -> Result<&'de str> {
        let offset = self.pos;
        let bytes = self.take(n)?;
        std::str::from_utf8(bytes).map_err(|_| Error::InvalidUtf8 { offset })
    }

    /// Reads a count of `width` bytes (1, 2 or 4).
    #[inline]
    fn count(&mut self, width: u8) -> Result<usize> {
        Ok(match width {
            1 => self.byte()? as usize,
            2 => u16::from_be_bytes(self.array()?) as usize,
            _ => u32::from_be_bytes(self.array()?) as usize,
        })
    }

    /// Refuses a container of `count` items of at least `min_size` bytes each that the rest of
    /// the input cannot hold.
    #[inline]
    fn check_count(&self, count: usize, min_size: usize, at: usize) -> Result<()> {
        if count.saturating_mul(min_size) > self.remaining() {
            return Err(Error::CountTooLarge {
                count: count as u64,
                remaining: self.remaining(),
                offset: at,
            });
        }
        Ok(())
    }

    #[inline]
    fn enter(&mut self, at: usize) -> Result<()> {
        if self.depth >= self.max_depth {
            return Err(Error::DepthLimitExceeded {
                limit: self.max_depth,
                offset: at,
            });
        }
        self.depth += 1;
        Ok(())
    }

    #[inline]
    fn bigint(&mut self, at: usize) -> Result<i128> {
        let n = self.byte()? as usize;
        let bytes = self.take(n)?;
        let negative = bytes.first().is_some_and(|b| b & 0x80 != 0);
        // Bytes beyond 16 must be pure sign extension, and what is left must keep the sign.
        let (extension, value) = bytes.split_at(n.saturating_sub(16));
        if let Some(&first) = value.first().filter(|_| !extension.is_empty()) {
            let fill = if negative { 0xFF } else { 0x00 };
            if extension.iter().any(|&b| b != fill) || (first & 0x80 != 0) != negative {
                return Err(Error::IntegerOutOfRange { offset: at });
            }
        }
        let mut v: i128 = if negative { -1 } else { 0 };
        for &b in value {
            v = (v << 8) | i128::from(b);
        }
        Ok(v)
    }

    fn visit_list<V: Visitor<'de>>(&mut self, count: usize, at: usize, visitor: V) -> Result<V::Value> {
        self.check_count(count, 1, at)?;
        self.enter(at)?;
        let mut access = Items {
            de: self,
            left: count,
        };
        let value = visitor.visit_seq(&mut access);
        let left = access.left;
        self.depth -= 1;
        finish_container(value?, left)
    }

    fn visit_map<V: Visitor<'de>>(
        &mut self,
        count: usize,
        string_keys: bool,
        at: usize,
        visitor: V,
    ) -> Result<V::Value> {
        self.check_count(count, 2, at)?;
        self.enter(at)?;
        let value = if string_keys {
            let mut access = StrKeyEntries(Items {
                de: self,
                left: count,
            });
            visitor.visit_map(&mut access).map(|v| (v, access.0.left))
        } else {
            let mut access = Items {
                de: self,
                left: count,
            };
            visitor.visit_map(&mut access).map(|v| (v, access.left))
        };
        self.depth -= 1;
        let (value, left) = value?;
        finish_container(value, left)
    }
}

fn finish_container<T>(value: T, left: usize) -> Result<T> {
    if left == 0 {
        Ok(value)
    } else {
        Err(de::Error::custom(format_args!(
            "{left} item(s) of a container were not consumed"
        )))
    }
}

impl<'de> de::Deserializer<'de> for &mut Deserializer<'de> {
    type Error = Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        let at = self.pos;
        let t = self.byte()?;
        match t {
            0x80..=0xFF => visitor.visit_borrowed_str(self.str((t & 0x7F) as usize)?),
            0x40..=0x4F => self.visit_list((t & 0x0F) as usize, at, visitor),
            0x50..=0x5F => self.visit_map((t & 0x0F) as usize, true, at, visitor),
            0x60..=0x6F => self.visit_map((t & 0x0F) as usize, false, at, visitor),
            tag::STR_U8 | tag::STR_U16 | tag::STR_U32 => {
                let n = self.count(match t {
                    tag::STR_U8 => 1,
                    tag::STR_U16 => 2,
                    _ => 4,
                })?;
                visitor.visit_borrowed_str(self.str(n)?)
            }
            tag::I32 => visitor.visit_i32(i32::from_be_bytes(self.array()?)),
            tag::I16 => visitor.visit_i16(i16::from_be_bytes(self.array()?)),
            tag::I8 => visitor.visit_i8(self.byte()? as i8),
            tag::U32 => visitor.visit_u32(u32::from_be_bytes(self.array()?)),
            tag::U16 => visitor.visit_u16(u16::from_be_bytes(self.array()?)),
            tag::U8 => visitor.visit_u8(self.byte()?),
            tag::U24 => {
                let [a, b, c] = self.array()?;
                visitor.visit_u32(u32::from_be_bytes([0, a, b, c]))
            }
            tag::LIST_U8 | tag::LIST_U16 | tag::LIST_U32 => {
                let n = self.count(match t {
                    tag::LIST_U8 => 1,
                    tag::LIST_U16 => 2,
                    _ => 4,
                })?;
                self.visit_list(n, at, visitor)
            }
            tag::MAP_U8 | tag::MAP_U16 | tag::MAP_U32 => {
                let n = self.count(match t {
                    tag::MAP_U8 => 1,
                    tag::MAP_U16 => 2,
                    _ => 4,
                })?;
                self.visit_map(n, true, at, visitor)
            }
            tag::ANYMAP_U8 | tag::ANYMAP_U16 | tag::ANYMAP_U32 => {
                let n = self.count(match t {
                    tag::ANYMAP_U8 => 1,
                    tag::ANYMAP_U16 => 2,
                    _ => 4,
                })?;
                self.visit_map(n, false, at, visitor)
            }
            tag::NULL => visitor.visit_unit(),
            tag::F32 => visitor.visit_f32(f32::from_be_bytes(self.array()?)),
            tag::F64 => visitor.visit_f64(f64::from_be_bytes(self.array()?)),
            tag::TRUE => visitor.visit_bool(true),
            tag::FALSE => visitor.visit_bool(false),
            tag::BIGINT => {
                let v = self.bigint(at)?;
                if let Ok(v) = i64::try_from(v) {
                    visitor.visit_i64(v)
                } else if let Ok(v) = u64::try_from(v) {
                    visitor.visit_u64(v)
                } else {
                    Err(Error::IntegerOutOfRange { offset: at })
                }
            }
            tag::BIN_U8 | tag::BIN_U16 | tag::BIN_U32 => {
                let n = self.count(match t {
                    tag::BIN_U8 => 1,
                    tag::BIN_U16 => 2,
                    _ => 4,
                })?;
                visitor.visit_borrowed_bytes(self.take(n)?)
            }
            _ => Err(Error::InvalidTag { tag: t, offset: at }),
        }
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        if self.peek()? == tag::NULL {
            self.pos += 1;
            visitor.visit_none()
        } else {
            visitor.visit_some(self)
        }
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(self, _: &'static str, visitor: V) -> Result<V::Value> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value> {
        let at = self.pos;
        let t = self.peek()?;
        let one_entry = match t {
            0x51 | 0x61 => true,
            tag::MAP_U8 | tag::ANYMAP_U8 => self.input.get(at + 1) == Some(&1),
            _ => false,
        };
        if !one_entry {
            // A unit variant is written as its name.
            let Name(name) = de::Deserialize::deserialize(&mut *self)?;
            return visitor.visit_enum(name.into_deserializer());
        }
        self.pos += if t >= 0x50 { 1 } else { 2 };
        self.enter(at)?;
        let value = visitor.visit_enum(VariantEntry {
            de: self,
            string_key: t == 0x51 || t == tag::MAP_U8,
        });
        self.depth -= 1;
        value
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
        unit unit_struct seq tuple tuple_struct map struct identifier ignored_any
    }

    fn is_human_readable(&self) -> bool {
        true
    }
}

/// A variant name, borrowed or owned.
struct Name<'de>(std::borrow::Cow<'de, str>);

impl<'de> de::Deserialize<'de> for Name<'de> {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Name<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("an enum variant name or a one-entry map")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(Name(v.into()))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Name(v.to_owned().into()))
            }
        }
        d.deserialize_str(V)
    }
}

/// The items of a list, or the entries of an any-key map.
struct Items<'a, 'de> {
    de: &'a mut Deserializer<'de>,
    left: usize,
}

impl<'de> de::SeqAccess<'de> for Items<'_, 'de> {
    type Error = Error;
    fn next_element_seed<T: DeserializeSeed<'de>>(&mut self, seed: T) -> Result<Option<T::Value>> {
        if self.left == 0 {
            return Ok(None);
        }
        self.left -= 1;
        seed.deserialize(&mut *self.de).map(Some)
    }
    fn size_hint(&self) -> Option<usize> {
        Some(self.left)
    }
}

impl<'de> de::MapAccess<'de> for Items<'_, 'de> {
    type Error = Error;
    fn next_key_seed<K: DeserializeSeed<'de>>(&mut self, seed: K) -> Result<Option<K::Value>> {
        if self.left == 0 {
            return Ok(None);
        }
        self.left -= 1;
        seed.deserialize(&mut *self.de).map(Some)
    }
    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value> {
        seed.deserialize(&mut *self.de)
    }
    fn size_hint(&self) -> Option<usize> {
        Some(self.left)
    }
}

/// The entries of a string-keyed map: each key is a length byte and UTF-8 bytes.
struct StrKeyEntries<'a, 'de>(Items<'a, 'de>);

fn str_key<'de, K: DeserializeSeed<'de>>(de: &mut Deserializer<'de>, seed: K) -> Result<K::Value> {
    let n = de.byte()? as usize;
    let key = de.str(n)?;
    seed.deserialize(de::value::BorrowedStrDeserializer::new(key))
}

impl<'de> de::MapAccess<'de> for StrKeyEntries<'_, 'de> {
    type Error = Error;
    fn next_key_seed<K: DeserializeSeed<'de>>(&mut self, seed: K) -> Result<Option<K::Value>> {
        if self.0.left == 0 {
            return Ok(None);
        }
        self.0.left -= 1;
        str_key(self.0.de, seed).map(Some)
    }
    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value> {
        seed.deserialize(&mut *self.0.de)
    }
    fn size_hint(&self) -> Option<usize> {
        Some(self.0.left)
    }
}

/// A one-entry map `{variant: value}` read as an enum.
struct VariantEntry<'a, 'de> {
    de: &'a mut Deserializer<'de>,
    string_key: bool,
}

impl<'de, 'a> de::EnumAccess<'de> for VariantEntry<'a, 'de> {
    type Error = Error;
    type Variant = &'a mut Deserializer<'de>;
    fn variant_seed<V: DeserializeSeed<'de>>(self, seed: V) -> Result<(V::Value, Self::Variant)> {
        let variant = if self.string_key {
            str_key(self.de, seed)?
        } else {
            seed.deserialize(&mut *self.de)?
        };
        Ok((variant, self.de))
    }
}

impl<'de> de::VariantAccess<'de> for &mut Deserializer<'de> {
    type Error = Error;
    fn unit_variant(self) -> Result<()> {
        de::Deserialize::deserialize(self)
    }
    fn newtype_variant_seed<T: DeserializeSeed<'de>>(self, seed: T) -> Result<T::Value> {
        seed.deserialize(self)
    }
    fn tuple_variant<V: Visitor<'de>>(self, _len: usize, visitor: V) -> Result<V::Value> {
        de::Deserializer::deserialize_any(self, visitor)
    }
    fn struct_variant<V: Visitor<'de>>(self, _: &'static [&'static str], visitor: V) -> Result<V::Value> {
        de::Deserializer::deserialize_any(self, visitor)
    }
}

/// The length of the one value at the start of `bytes`, which must be valid MiniJSON.
pub(crate) fn value_len(bytes: &[u8]) -> Result<usize> {
    let mut de = Deserializer::from_slice(bytes).with_max_depth(usize::MAX);
    de::Deserialize::deserialize(&mut de).map(|de::IgnoredAny| de.offset())
}
