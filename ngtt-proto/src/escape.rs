//! [`Escaped`]: the one way a string a peer chose (a device id, a path, a header, a reason)
//! reaches a log line. Control characters (newlines, ANSI escape sequences), bidirectional
//! overrides and backslashes are written as Rust escapes, so that a peer can neither forge a log
//! line nor drive a terminal; strings longer than [`LOG_STRING_LIMIT`] bytes are cut, with the
//! number of bytes left out.

use std::fmt;

/// The most bytes of one peer-supplied string written to a log line.
pub const LOG_STRING_LIMIT: usize = 256;

/// Displays a peer-supplied string safely for logs (see the module documentation).
#[derive(Clone, Copy, Debug)]
pub struct Escaped<'a>(pub &'a str);

/// Displays peer-supplied bytes as [`Escaped`] text (invalid UTF-8 replaced by U+FFFD).
#[derive(Clone, Copy, Debug)]
pub struct EscapedBytes<'a>(pub &'a [u8]);

/// Whether `c` would be written escaped by [`Escaped`].
pub fn needs_escape(c: char) -> bool {
    c.is_control()
        || c == '\\'
        || matches!(c, '\u{200B}'..='\u{200F}' | '\u{2028}'..='\u{202E}' | '\u{2060}'..='\u{206F}' | '\u{FEFF}')
}

impl fmt::Display for Escaped<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (at, c) in self.0.char_indices() {
            if at >= LOG_STRING_LIMIT {
                return write!(f, "…(+{} bytes)", self.0.len() - at);
            }
            if needs_escape(c) {
                match c {
                    '\n' => f.write_str("\\n")?,
                    '\r' => f.write_str("\\r")?,
                    '\t' => f.write_str("\\t")?,
                    '\\' => f.write_str("\\\\")?,
                    c => write!(f, "\\u{{{:x}}}", c as u32)?,
                }
            } else {
                fmt::Write::write_char(f, c)?;
            }
        }
        Ok(())
    }
}

impl fmt::Display for EscapedBytes<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let cut = &self.0[..self.0.len().min(LOG_STRING_LIMIT + 4)];
        let text = String::from_utf8_lossy(cut);
        Escaped(&text).fmt(f)?;
        if self.0.len() > cut.len() {
            write!(f, "…(+{} bytes)", self.0.len() - cut.len())?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forged_lines_and_ansi_are_escaped() {
        let shown = Escaped("dev\n2026-01-01 INFO forged\x1b[31m\\\u{202E}").to_string();
        assert_eq!(shown, "dev\\n2026-01-01 INFO forged\\u{1b}[31m\\\\\\u{202e}");
        assert!(!shown.contains('\n') && !shown.contains('\x1b'));
        assert_eq!(Escaped("dev-1 ok").to_string(), "dev-1 ok");
    }

    #[test]
    fn long_strings_are_cut() {
        let long = "a".repeat(60 * 1024);
        let shown = Escaped(&long).to_string();
        assert!(shown.len() < LOG_STRING_LIMIT + 32, "{}", shown.len());
        assert!(shown.ends_with(&format!("…(+{} bytes)", 60 * 1024 - LOG_STRING_LIMIT)));
        let bytes = EscapedBytes(&[b'x'; 1000]).to_string();
        assert!(bytes.len() < LOG_STRING_LIMIT + 40);
        assert_eq!(EscapedBytes(b"a\xffb\n").to_string(), "a\u{fffd}b\\n");
    }
}
