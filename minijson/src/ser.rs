//! Serialization: any `Serialize` type to MiniJSON, always in the shortest form.
//!
//! Containers are written with a header guessed from serde's length hint (or a one-byte
//! placeholder when there is none) and fixed up when they end, so no element is ever buffered
//! twice. A map starts as a string-keyed map; the first key that is not a string of at most 255
//! bytes turns it, and the entries already written, into an any-key map.

use serde::ser::{self, Serialize};

use crate::error::{Error, Result};
use crate::tag::{self, Container};

/// A MiniJSON serializer writing into a growable buffer.
///
/// ```
/// use serde::Serialize;
/// let mut ser = minijson::Serializer::new();
/// vec![1u8, 2, 3].serialize(&mut ser).unwrap();
/// assert_eq!(ser.into_inner(), [0x43, 0x03, 0x01, 0x03, 0x02, 0x03, 0x03]);
/// ```
#[derive(Debug, Default)]
pub struct Serializer {
    out: Vec<u8>,
}

impl Serializer {
    /// A serializer with an empty buffer.
    pub fn new() -> Self {
        Serializer { out: Vec::new() }
    }

    /// A serializer appending to `out`.
    pub fn from_vec(out: Vec<u8>) -> Self {
        Serializer { out }
    }

    /// The bytes written so far.
    pub fn into_inner(self) -> Vec<u8> {
        self.out
    }

    fn open(&mut self, kind: Container, hint: Option<usize>) -> Result<Compound<'_>> {
        let start = self.out.len();
        let header = tag::container_header(kind, hint.unwrap_or(0))?;
        self.out.extend_from_slice(header.as_slice());
        let body = self.out.len();
        Ok(Compound {
            ser: self,
            start,
            body,
            header,
            count: 0,
            kind,
        })
    }

    /// Writes the one-entry string-keyed map that wraps a non-unit enum variant.
    fn variant_key(&mut self, variant: &str) -> Result<()> {
        if variant.len() <= 0xFF {
            self.out
                .extend_from_slice(&[tag::SHORT_MAP | 1, variant.len() as u8]);
            self.out.extend_from_slice(variant.as_bytes());
            Ok(())
        } else {
            self.out.push(tag::SHORT_ANYMAP | 1);
            tag::write_str(&mut self.out, variant)
        }
    }
}

/// A container being written; finishing it writes the right header.
#[doc(hidden)]
pub struct Compound<'a> {
    ser: &'a mut Serializer,
    /// Where the header starts.
    start: usize,
    /// Where the first item starts (the header written so far ends here).
    body: usize,
    /// The header written at `start`.
    header: tag::Header,
    count: usize,
    kind: Container,
}

impl Compound<'_> {
    fn finish(self) -> Result<()> {
        let header = tag::container_header(self.kind, self.count)?;
        if header != self.header {
            let out = &mut self.ser.out;
            out.splice(self.start..self.body, header.as_slice().iter().copied());
        }
        Ok(())
    }

    fn element<T: ?Sized + Serialize>(&mut self, value: &T) -> Result<()> {
        value.serialize(&mut *self.ser)?;
        self.count += 1;
        Ok(())
    }

    fn key<T: ?Sized + Serialize>(&mut self, key: &T) -> Result<()> {
        let mark = self.ser.out.len();
        key.serialize(&mut *self.ser)?;
        self.count += 1;
        if self.kind == Container::AnyMap {
            return Ok(());
        }
        let out = &mut self.ser.out;
        let Some(&first) = out.get(mark) else {
            return Err(Error::Message("a map key serialized to nothing".into()));
        };
        match first {
            // A short string: the key form is its length byte then the same bytes.
            t if t & tag::SHORT_STR != 0 => out[mark] = t & !tag::SHORT_STR,
            // A string of 128..=255 bytes: drop the type byte, keep the length byte.
            tag::STR_U8 => {
                out.remove(mark);
            }
            _ => self.switch_to_any_keys(mark)?,
        }
        Ok(())
    }

    fn str_key(&mut self, key: &str) -> Result<()> {
        if self.kind == Container::StrMap && key.len() <= 0xFF {
            self.ser.out.push(key.len() as u8);
            self.ser.out.extend_from_slice(key.as_bytes());
            self.count += 1;
            Ok(())
        } else {
            self.key(key)
        }
    }

    /// Rewrites the entries in `body..mark` from string-key form to any-key form.
    fn switch_to_any_keys(&mut self, mark: usize) -> Result<()> {
        self.kind = Container::AnyMap;
        let out = &mut self.ser.out;
        let tail = out.split_off(self.body);
        let (entries, current_key) = tail.split_at(mark - self.body);
        let mut i = 0;
        while i < entries.len() {
            let n = entries[i] as usize;
            let key = &entries[i + 1..i + 1 + n];
            // The key was a valid `&str` when written.
            let key = std::str::from_utf8(key).map_err(|_| Error::InvalidUtf8 { offset: i })?;
            tag::write_str(out, key)?;
            i += 1 + n;
            let len = crate::de::value_len(&entries[i..])?;
            out.extend_from_slice(&entries[i..i + len]);
            i += len;
        }
        out.extend_from_slice(current_key);
        Ok(())
    }
}

impl<'a> ser::Serializer for &'a mut Serializer {
    type Ok = ();
    type Error = Error;
    type SerializeSeq = Compound<'a>;
    type SerializeTuple = Compound<'a>;
    type SerializeTupleStruct = Compound<'a>;
    type SerializeTupleVariant = Compound<'a>;
    type SerializeMap = Compound<'a>;
    type SerializeStruct = Compound<'a>;
    type SerializeStructVariant = Compound<'a>;

    fn serialize_bool(self, v: bool) -> Result<()> {
        self.out.push(if v { tag::TRUE } else { tag::FALSE });
        Ok(())
    }
    fn serialize_i8(self, v: i8) -> Result<()> {
        self.serialize_i64(v.into())
    }
    fn serialize_i16(self, v: i16) -> Result<()> {
        self.serialize_i64(v.into())
    }
    fn serialize_i32(self, v: i32) -> Result<()> {
        self.serialize_i64(v.into())
    }
    fn serialize_i64(self, v: i64) -> Result<()> {
        tag::write_i64(&mut self.out, v);
        Ok(())
    }
    fn serialize_i128(self, v: i128) -> Result<()> {
        if let Ok(v) = i64::try_from(v) {
            self.serialize_i64(v)
        } else if let Ok(v) = u64::try_from(v) {
            self.serialize_u64(v)
        } else {
            Err(Error::Message(format!("integer {v} does not fit in 64 bits")))
        }
    }
    fn serialize_u8(self, v: u8) -> Result<()> {
        self.serialize_i64(v.into())
    }
    fn serialize_u16(self, v: u16) -> Result<()> {
        self.serialize_i64(v.into())
    }
    fn serialize_u32(self, v: u32) -> Result<()> {
        self.serialize_i64(v.into())
    }
    fn serialize_u64(self, v: u64) -> Result<()> {
        tag::write_u64(&mut self.out, v);
        Ok(())
    }
    fn serialize_u128(self, v: u128) -> Result<()> {
        match u64::try_from(v) {
            Ok(v) => self.serialize_u64(v),
            Err(_) => Err(Error::Message(format!("integer {v} does not fit in 64 bits"))),
        }
    }
    fn serialize_f32(self, v: f32) -> Result<()> {
        tag::write_f32(&mut self.out, v);
        Ok(())
    }
    fn serialize_f64(self, v: f64) -> Result<()> {
        tag::write_f64(&mut self.out, v);
        Ok(())
    }
    fn serialize_char(self, v: char) -> Result<()> {
        self.serialize_str(v.encode_utf8(&mut [0; 4]))
    }
    fn serialize_str(self, v: &str) -> Result<()> {
        tag::write_str(&mut self.out, v)
    }
    fn serialize_bytes(self, v: &[u8]) -> Result<()> {
        tag::write_bin_header(&mut self.out, v.len())?;
        self.out.extend_from_slice(v);
        Ok(())
    }
    fn serialize_none(self) -> Result<()> {
        self.serialize_unit()
    }
    fn serialize_some<T: ?Sized + Serialize>(self, value: &T) -> Result<()> {
        value.serialize(self)
    }
    fn serialize_unit(self) -> Result<()> {
        self.out.push(tag::NULL);
        Ok(())
    }
    fn serialize_unit_struct(self, _name: &'static str) -> Result<()> {
        self.serialize_unit()
    }
    fn serialize_unit_variant(self, _: &'static str, _: u32, variant: &'static str) -> Result<()> {
        self.serialize_str(variant)
    }
    fn serialize_newtype_struct<T: ?Sized + Serialize>(self, _: &'static str, v: &T) -> Result<()> {
        v.serialize(self)
    }
    fn serialize_newtype_variant<T: ?Sized + Serialize>(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
        value: &T,
    ) -> Result<()> {
        self.variant_key(variant)?;
        value.serialize(self)
    }
    fn serialize_seq(self, len: Option<usize>) -> Result<Compound<'a>> {
        self.open(Container::List, len)
    }
    fn serialize_tuple(self, len: usize) -> Result<Compound<'a>> {
        self.open(Container::List, Some(len))
    }
    fn serialize_tuple_struct(self, _: &'static str, len: usize) -> Result<Compound<'a>> {
        self.open(Container::List, Some(len))
    }
    fn serialize_tuple_variant(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
        len: usize,
    ) -> Result<Compound<'a>> {
        self.variant_key(variant)?;
        self.open(Container::List, Some(len))
    }
    fn serialize_map(self, len: Option<usize>) -> Result<Compound<'a>> {
        self.open(Container::StrMap, len)
    }
    fn serialize_struct(self, _: &'static str, len: usize) -> Result<Compound<'a>> {
        self.open(Container::StrMap, Some(len))
    }
    fn serialize_struct_variant(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
        len: usize,
    ) -> Result<Compound<'a>> {
        self.variant_key(variant)?;
        self.open(Container::StrMap, Some(len))
    }
    fn is_human_readable(&self) -> bool {
        // MiniJSON stands in for JSON: types with a textual form (UUIDs, addresses, times) keep
        // it, so a Python peer reads them as it would read JSON.
        true
    }
}

macro_rules! seq_like {
    ($($trait:ident :: $method:ident),*) => {$(
        impl ser::$trait for Compound<'_> {
            type Ok = ();
            type Error = Error;
            fn $method<T: ?Sized + Serialize>(&mut self, value: &T) -> Result<()> {
                self.element(value)
            }
            fn end(self) -> Result<()> {
                self.finish()
            }
        }
    )*};
}
seq_like!(
    SerializeSeq::serialize_element,
    SerializeTuple::serialize_element,
    SerializeTupleStruct::serialize_field,
    SerializeTupleVariant::serialize_field
);

impl ser::SerializeMap for Compound<'_> {
    type Ok = ();
    type Error = Error;
    fn serialize_key<T: ?Sized + Serialize>(&mut self, key: &T) -> Result<()> {
        self.key(key)
    }
    fn serialize_value<T: ?Sized + Serialize>(&mut self, value: &T) -> Result<()> {
        value.serialize(&mut *self.ser)
    }
    fn end(self) -> Result<()> {
        self.finish()
    }
}

macro_rules! struct_like {
    ($($trait:ident),*) => {$(
        impl ser::$trait for Compound<'_> {
            type Ok = ();
            type Error = Error;
            fn serialize_field<T: ?Sized + Serialize>(
                &mut self,
                key: &'static str,
                value: &T,
            ) -> Result<()> {
                self.str_key(key)?;
                value.serialize(&mut *self.ser)
            }
            fn end(self) -> Result<()> {
                self.finish()
            }
        }
    )*};
}
struct_like!(SerializeStruct, SerializeStructVariant);
