//! Reading the command's input: all at once (raw bytes or hex text) or in chunks.

use std::io::{ErrorKind, Read};

use crate::error::CliError;

/// Size of the reads [`for_each_chunk`] makes.
pub const CHUNK_SIZE: usize = 64 * 1024;

/// Reads everything from `input`.
pub fn read_all(input: &mut dyn Read) -> Result<Vec<u8>, CliError> {
    let mut bytes = Vec::new();
    input.read_to_end(&mut bytes).map_err(CliError::read)?;
    Ok(bytes)
}

/// Reads everything from `input` as hex text (either case, ASCII white space ignored) and
/// returns the bytes it spells.
pub fn read_hex(input: &mut dyn Read) -> Result<Vec<u8>, CliError> {
    let text = read_all(input)?;
    let text = String::from_utf8(text).map_err(|e| {
        CliError::InvalidHex(format!(
            "not text (invalid UTF-8 at byte {})",
            e.utf8_error().valid_up_to()
        ))
    })?;
    minijson::hex::from_hex(&text).map_err(|e| CliError::InvalidHex(e.to_string()))
}

/// Reads everything from `input`: hex text when `hex` is set, else raw bytes.
pub fn read_input(input: &mut dyn Read, hex: bool) -> Result<Vec<u8>, CliError> {
    if hex {
        read_hex(input)
    } else {
        read_all(input)
    }
}

/// Reads `input` in chunks of at most [`CHUNK_SIZE`] bytes, handing each to `f` as soon as it
/// arrives, until end of input or until `f` fails.
pub fn for_each_chunk(
    input: &mut dyn Read,
    mut f: impl FnMut(&[u8]) -> Result<(), CliError>,
) -> Result<(), CliError> {
    let mut buf = vec![0u8; CHUNK_SIZE];
    loop {
        match input.read(&mut buf) {
            Ok(0) => return Ok(()),
            Ok(n) => f(&buf[..n])?,
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) => return Err(CliError::read(e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_ignores_white_space_and_reports_junk() {
        assert_eq!(read_hex(&mut &b"00 AB\nff\n"[..]).unwrap(), [0, 0xab, 0xff]);
        assert!(matches!(read_hex(&mut &b"0g"[..]), Err(CliError::InvalidHex(_))));
        assert!(matches!(read_hex(&mut &b"abc"[..]), Err(CliError::InvalidHex(_))));
        assert!(matches!(
            read_hex(&mut &[0xff, 0xfe][..]),
            Err(CliError::InvalidHex(_))
        ));
    }

    #[test]
    fn chunks_cover_the_whole_input() {
        let data: Vec<u8> = (0..3 * CHUNK_SIZE + 5).map(|i| i as u8).collect();
        let mut seen = Vec::new();
        for_each_chunk(&mut &data[..], |c| {
            seen.extend_from_slice(c);
            Ok(())
        })
        .unwrap();
        assert_eq!(seen, data);
    }
}
