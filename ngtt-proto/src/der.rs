//! The little DER needed for the two NGTT certificate extensions: one TLV read, one TLV written.

/// DER tag of INTEGER.
pub(crate) const TAG_INTEGER: u8 = 0x02;
/// DER tag of UTF8String.
pub(crate) const TAG_UTF8_STRING: u8 = 0x0C;
/// DER tag of PrintableString.
pub(crate) const TAG_PRINTABLE_STRING: u8 = 0x13;
/// DER tag of IA5String.
pub(crate) const TAG_IA5_STRING: u8 = 0x16;

/// Why a byte string is not exactly one DER TLV.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TlvError {
    /// No bytes at all.
    Empty,
    /// The length field or the contents run past the end.
    Truncated,
    /// Indefinite, non-minimal or absurdly long length encoding.
    BadLength,
    /// Bytes follow the value.
    TrailingBytes,
    /// A multi-byte tag number (never one of ours).
    HighTag,
}

impl TlvError {
    /// A short description for error messages.
    pub(crate) fn describe(self) -> &'static str {
        match self {
            TlvError::Empty => "empty extension value",
            TlvError::Truncated => "truncated DER value",
            TlvError::BadLength => "invalid DER length encoding",
            TlvError::TrailingBytes => "trailing bytes after the DER value",
            TlvError::HighTag => "unsupported multi-byte DER tag",
        }
    }
}

/// Reads `input` as exactly one DER TLV with a single-byte tag: returns `(tag, contents)`.
pub(crate) fn read_tlv(input: &[u8]) -> Result<(u8, &[u8]), TlvError> {
    let (&tag, rest) = input.split_first().ok_or(TlvError::Empty)?;
    if tag & 0x1F == 0x1F {
        return Err(TlvError::HighTag);
    }
    let (&first, rest) = rest.split_first().ok_or(TlvError::Truncated)?;
    let (len, rest) = if first < 0x80 {
        (usize::from(first), rest)
    } else {
        let n = usize::from(first & 0x7F);
        // 0x80 is BER's indefinite length; DER lengths of more than 4 bytes are not plausible here.
        if n == 0 || n > 4 {
            return Err(TlvError::BadLength);
        }
        let (digits, rest) = rest.split_at_checked(n).ok_or(TlvError::Truncated)?;
        let len = digits.iter().fold(0u64, |acc, &d| (acc << 8) | u64::from(d));
        // DER: the shortest form, so no leading zero byte and no long form below 128.
        if digits.first() == Some(&0) || len < 0x80 {
            return Err(TlvError::BadLength);
        }
        (usize::try_from(len).map_err(|_| TlvError::BadLength)?, rest)
    };
    let (contents, trailing) = rest.split_at_checked(len).ok_or(TlvError::Truncated)?;
    if !trailing.is_empty() {
        return Err(TlvError::TrailingBytes);
    }
    Ok((tag, contents))
}

/// Appends the DER encoding of `tag`, the length of `contents`, then `contents` to `out`.
pub(crate) fn write_tlv(tag: u8, contents: &[u8], out: &mut Vec<u8>) {
    let len = contents.len();
    out.push(tag);
    if len < 0x80 {
        out.push(len as u8); // < 0x80: fits
    } else {
        let bytes = (len as u64).to_be_bytes();
        let skip = bytes.iter().take_while(|&&b| b == 0).count();
        let digits = &bytes[skip..];
        out.push(0x80 | digits.len() as u8); // at most 8
        out.extend_from_slice(digits);
    }
    out.extend_from_slice(contents);
}

/// Decodes DER INTEGER contents (two's complement, minimal) that fit an `i64`.
pub(crate) fn integer_value(contents: &[u8]) -> Result<i64, &'static str> {
    match contents {
        [] => Err("empty INTEGER"),
        [0x00, next, ..] if next & 0x80 == 0 => Err("non-minimal INTEGER"),
        [0xFF, next, ..] if next & 0x80 != 0 => Err("non-minimal INTEGER"),
        _ if contents.len() > 8 => Err("INTEGER out of range"),
        [first, ..] => {
            let init: i64 = if first & 0x80 != 0 { -1 } else { 0 };
            Ok(contents.iter().fold(init, |acc, &b| (acc << 8) | i64::from(b)))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tlv(tag: u8, contents: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        write_tlv(tag, contents, &mut out);
        out
    }

    #[test]
    fn lengths_round_trip() {
        for len in [0usize, 1, 127, 128, 255, 256, 65_535, 65_536, 70_000] {
            let contents = vec![b'x'; len];
            let enc = tlv(TAG_UTF8_STRING, &contents);
            let expected_header = match len {
                0..=127 => 2,
                128..=255 => 3,
                256..=65_535 => 4,
                _ => 5,
            };
            assert_eq!(enc.len(), expected_header + len, "len {len}");
            assert_eq!(read_tlv(&enc), Ok((TAG_UTF8_STRING, &contents[..])));
        }
        assert_eq!(tlv(0x0C, b"1"), [0x0C, 0x01, 0x31]);
        assert_eq!(&tlv(0x0C, &[0; 200])[..3], [0x0C, 0x81, 200]);
        assert_eq!(&tlv(0x0C, &[0; 300])[..4], [0x0C, 0x82, 0x01, 0x2C]);
    }

    #[test]
    fn bad_tlvs() {
        assert_eq!(read_tlv(&[]), Err(TlvError::Empty));
        assert_eq!(read_tlv(&[0x0C]), Err(TlvError::Truncated));
        assert_eq!(read_tlv(&[0x0C, 0x02, 0x31]), Err(TlvError::Truncated));
        assert_eq!(read_tlv(&[0x0C, 0x01, 0x31, 0x00]), Err(TlvError::TrailingBytes));
        assert_eq!(read_tlv(&[0x0C, 0x80, 0x31, 0, 0]), Err(TlvError::BadLength));
        assert_eq!(read_tlv(&[0x0C, 0x81, 0x01, 0x31]), Err(TlvError::BadLength));
        assert_eq!(read_tlv(&[0x0C, 0x82, 0x00, 0x81]), Err(TlvError::BadLength));
        assert_eq!(read_tlv(&[0x0C, 0x85, 1, 1, 1, 1, 1]), Err(TlvError::BadLength));
        assert_eq!(
            read_tlv(&[0x0C, 0x84, 0xFF, 0xFF, 0xFF, 0xFF]),
            Err(TlvError::Truncated)
        );
        assert_eq!(read_tlv(&[0x1F, 0x01, 0x00]), Err(TlvError::HighTag));
    }

    #[test]
    fn integers() {
        assert_eq!(integer_value(&[0x00]), Ok(0));
        assert_eq!(integer_value(&[0x02]), Ok(2));
        assert_eq!(integer_value(&[0x00, 0x80]), Ok(128));
        assert_eq!(integer_value(&[0xFF]), Ok(-1));
        assert_eq!(integer_value(&[0xFF, 0x7F]), Ok(-129));
        assert_eq!(integer_value(&[0x7F; 8]), Ok(0x7F7F_7F7F_7F7F_7F7F));
        assert!(integer_value(&[]).is_err());
        assert!(integer_value(&[0x00, 0x02]).is_err());
        assert!(integer_value(&[0xFF, 0x80]).is_err());
        assert!(integer_value(&[0x01; 9]).is_err());
    }
}
