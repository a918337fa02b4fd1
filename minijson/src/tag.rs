//! Tag bytes of MiniJSON and the shortest-form writers for headers and scalars.
//!
//! Every function here appends to a `Vec<u8>`; none of them can fail except for lengths that do
//! not fit MiniJSON's 32-bit counts.

use crate::error::{Error, Result};

pub(crate) const STR_U8: u8 = 0;
pub(crate) const I32: u8 = 1;
pub(crate) const I16: u8 = 2;
pub(crate) const I8: u8 = 3;
pub(crate) const U32: u8 = 4;
pub(crate) const U16: u8 = 5;
pub(crate) const U8: u8 = 6;
pub(crate) const LIST_U8: u8 = 7;
pub(crate) const NULL: u8 = 8;
pub(crate) const F32: u8 = 9;
pub(crate) const F64: u8 = 10;
pub(crate) const MAP_U8: u8 = 11;
pub(crate) const U24: u8 = 12;
pub(crate) const STR_U16: u8 = 13;
pub(crate) const STR_U32: u8 = 14;
pub(crate) const LIST_U16: u8 = 15;
pub(crate) const LIST_U32: u8 = 16;
pub(crate) const MAP_U16: u8 = 17;
pub(crate) const MAP_U32: u8 = 18;
pub(crate) const ANYMAP_U32: u8 = 19;
pub(crate) const ANYMAP_U8: u8 = 20;
pub(crate) const ANYMAP_U16: u8 = 21;
pub(crate) const TRUE: u8 = 22;
pub(crate) const FALSE: u8 = 23;
pub(crate) const BIGINT: u8 = 24;
pub(crate) const BIN_U8: u8 = 25;
pub(crate) const BIN_U16: u8 = 26;
pub(crate) const BIN_U32: u8 = 27;

pub(crate) const SHORT_STR: u8 = 0x80;
pub(crate) const SHORT_LIST: u8 = 0x40;
pub(crate) const SHORT_MAP: u8 = 0x50;
pub(crate) const SHORT_ANYMAP: u8 = 0x60;

/// The three kinds of container header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Container {
    List,
    /// A map whose keys are all strings of at most 255 bytes.
    StrMap,
    /// A map with any keys.
    AnyMap,
}

/// A header of at most five bytes, built on the stack.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Header {
    bytes: [u8; 5],
    len: u8,
}

impl Header {
    pub(crate) fn as_slice(&self) -> &[u8] {
        &self.bytes[..self.len as usize]
    }
}

fn sized(n: usize, short: Option<u8>, short_max: usize, t: [u8; 3]) -> Result<Header> {
    let mut bytes = [0u8; 5];
    let len = match short {
        Some(base) if n <= short_max => {
            bytes[0] = base | n as u8;
            1
        }
        _ if n <= 0xFF => {
            bytes[..2].copy_from_slice(&[t[0], n as u8]);
            2
        }
        _ if n <= 0xFFFF => {
            bytes[0] = t[1];
            bytes[1..3].copy_from_slice(&(n as u16).to_be_bytes());
            3
        }
        _ => {
            let n = u32::try_from(n).map_err(|_| Error::TooLong(n))?;
            bytes[0] = t[2];
            bytes[1..5].copy_from_slice(&n.to_be_bytes());
            5
        }
    };
    Ok(Header { bytes, len })
}

/// The shortest header for a container of `n` items.
#[inline]
pub(crate) fn container_header(kind: Container, n: usize) -> Result<Header> {
    if n <= 15 {
        let base = match kind {
            Container::List => SHORT_LIST,
            Container::StrMap => SHORT_MAP,
            Container::AnyMap => SHORT_ANYMAP,
        };
        return Ok(Header {
            bytes: [base | n as u8, 0, 0, 0, 0],
            len: 1,
        });
    }
    match kind {
        Container::List => sized(n, Some(SHORT_LIST), 15, [LIST_U8, LIST_U16, LIST_U32]),
        Container::StrMap => sized(n, Some(SHORT_MAP), 15, [MAP_U8, MAP_U16, MAP_U32]),
        Container::AnyMap => sized(n, Some(SHORT_ANYMAP), 15, [ANYMAP_U8, ANYMAP_U16, ANYMAP_U32]),
    }
}

/// Appends the header of a string of `n` bytes.
pub(crate) fn write_str_header(out: &mut Vec<u8>, n: usize) -> Result<()> {
    let h = sized(n, Some(SHORT_STR), 127, [STR_U8, STR_U16, STR_U32])?;
    out.extend_from_slice(h.as_slice());
    Ok(())
}

/// Appends the header of binary data of `n` bytes.
pub(crate) fn write_bin_header(out: &mut Vec<u8>, n: usize) -> Result<()> {
    let h = sized(n, None, 0, [BIN_U8, BIN_U16, BIN_U32])?;
    out.extend_from_slice(h.as_slice());
    Ok(())
}

/// Appends a string value in its shortest form.
#[inline]
pub(crate) fn write_str(out: &mut Vec<u8>, s: &str) -> Result<()> {
    if s.len() <= 127 {
        // The common case, kept branch-light: one reserve, one tag byte, the bytes.
        out.reserve(1 + s.len());
        out.push(SHORT_STR | s.len() as u8);
    } else {
        write_str_header(out, s.len())?;
    }
    out.extend_from_slice(s.as_bytes());
    Ok(())
}

/// Appends a signed integer in its shortest form.
pub(crate) fn write_i64(out: &mut Vec<u8>, v: i64) {
    if (-128..=127).contains(&v) {
        out.extend_from_slice(&[I8, v as u8]);
    } else if (0..=0xFF).contains(&v) {
        out.extend_from_slice(&[U8, v as u8]);
    } else if (-32768..=32767).contains(&v) {
        out.push(I16);
        out.extend_from_slice(&(v as i16).to_be_bytes());
    } else if (0..=0xFFFF).contains(&v) {
        out.push(U16);
        out.extend_from_slice(&(v as u16).to_be_bytes());
    } else if (0..=0xFF_FFFF).contains(&v) {
        out.push(U24);
        out.extend_from_slice(&(v as u32).to_be_bytes()[1..]);
    } else if (i32::MIN as i64..=i32::MAX as i64).contains(&v) {
        out.push(I32);
        out.extend_from_slice(&(v as i32).to_be_bytes());
    } else if (0..=u32::MAX as i64).contains(&v) {
        out.push(U32);
        out.extend_from_slice(&(v as u32).to_be_bytes());
    } else {
        write_bigint(out, v as i128);
    }
}

/// Appends an unsigned integer in its shortest form.
pub(crate) fn write_u64(out: &mut Vec<u8>, v: u64) {
    match i64::try_from(v) {
        Ok(v) => write_i64(out, v),
        Err(_) => write_bigint(out, v as i128),
    }
}

/// Appends type 24 with the fewest bytes (at least 5) holding `v` in two's complement.
fn write_bigint(out: &mut Vec<u8>, v: i128) {
    // Magnitude bits of the value (ones' complement for negatives), plus one sign bit.
    let bits = 128 - (v ^ (v >> 127)).leading_zeros() as usize + 1;
    let n = bits.div_ceil(8).max(5);
    out.extend_from_slice(&[BIGINT, n as u8]);
    out.extend_from_slice(&v.to_be_bytes()[16 - n..]);
}

/// Appends an `f32` as single.
pub(crate) fn write_f32(out: &mut Vec<u8>, v: f32) {
    out.push(F32);
    out.extend_from_slice(&v.to_be_bytes());
}

/// Appends an `f64`: single when converting it to `f32` and back is exact, else double.
pub(crate) fn write_f64(out: &mut Vec<u8>, v: f64) {
    match exact_f32(v) {
        Some(single) => write_f32(out, single),
        None => {
            out.push(F64);
            out.extend_from_slice(&v.to_be_bytes());
        }
    }
}

/// `v` as an `f32` when that loses nothing, not even a NaN payload or the sign of zero.
pub(crate) fn exact_f32(v: f64) -> Option<f32> {
    let single = v as f32;
    (f64::from(single).to_bits() == v.to_bits()).then_some(single)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(f: impl FnOnce(&mut Vec<u8>)) -> String {
        let mut v = Vec::new();
        f(&mut v);
        v.iter().map(|b| format!("{b:02x}")).collect()
    }

    #[test]
    fn bigint_uses_fewest_bytes() {
        assert_eq!(hex(|o| write_u64(o, u64::MAX)), "180900ffffffffffffffff");
        assert_eq!(hex(|o| write_i64(o, i64::MIN)), "18088000000000000000");
        assert_eq!(hex(|o| write_i64(o, -2147483649)), "1805ff7fffffff");
    }

    #[test]
    fn floats_keep_width_only_when_needed() {
        assert_eq!(hex(|o| write_f64(o, 1.5)), "093fc00000");
        assert_eq!(hex(|o| write_f64(o, 0.1)), "0a3fb999999999999a");
        assert_eq!(hex(|o| write_f64(o, -0.0)), "0980000000");
    }
}
