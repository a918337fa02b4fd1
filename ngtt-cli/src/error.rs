//! The error type of the `ngtt` command and how it maps to exit statuses.
//!
//! Every subcommand returns `Result<(), CliError>`; `main` prints the error as one line,
//! `ngtt: <message>`, on stderr and exits with [`CliError::exit_code`]. Usage errors never get
//! here: clap reports them itself and exits with status 2.

use std::io;

/// Prefix of every diagnostic line the command writes on stderr.
pub const PREFIX: &str = "ngtt: ";

/// Exit status for input the command could not accept (bad JSON, bad MiniJSON, bad frames) and
/// for I/O failures.
pub const EXIT_BAD_INPUT: u8 = 1;

/// Everything that can make an `ngtt` command fail.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// The input is not valid JSON.
    #[error("invalid JSON at line {line} column {column}: {reason}")]
    InvalidJson {
        /// 1-based line of the problem.
        line: usize,
        /// 1-based column of the problem (0 at the very end of empty input).
        column: usize,
        /// serde_json's description, without its own position suffix.
        reason: String,
    },

    /// The input is valid JSON but misuses a tag of the tagged mapping (e.g. bad `$bytes` hex).
    #[error("invalid tagged JSON: {0}")]
    InvalidTaggedJson(#[source] minijson::Error),

    /// A value could not be written as MiniJSON.
    #[error("cannot encode as MiniJSON: {0}")]
    Encode(#[source] minijson::Error),

    /// The input is not exactly one valid MiniJSON document.
    #[error("invalid MiniJSON{at}: {0}", at = at_byte(.0))]
    InvalidMiniJson(#[source] minijson::Error),

    /// Hex input that is not hex.
    /// Decoding the input would take more memory than allowed.
    #[error("decoding would take ~{need} bytes of memory, more than --max-memory {max}")]
    OverBudget {
        /// The estimate.
        need: usize,
        /// The allowance.
        max: usize,
    },

    #[error("invalid hex input: {0}")]
    InvalidHex(String),

    /// A frame header announces a payload longer than the configured maximum.
    #[error("frame at byte {offset}: length {len} exceeds the maximum {max}")]
    FrameTooLarge {
        /// Stream offset of the frame's first byte.
        offset: u64,
        /// Payload length from the header.
        len: u64,
        /// The configured maximum payload length.
        max: usize,
    },

    /// The stream ended after a complete header but before the end of the frame.
    #[error("truncated frame at byte {offset}: header says {need} bytes, only {have} present")]
    TruncatedFrame {
        /// Stream offset of the frame's first byte.
        offset: u64,
        /// Size of the whole frame (header and payload) the header announces.
        need: u64,
        /// Bytes of the frame that were present.
        have: usize,
    },

    /// The stream ended in the middle of a frame header.
    #[error("truncated frame at byte {offset}: only {have} of the 8 header bytes present")]
    TruncatedHeader {
        /// Stream offset of the frame's first byte.
        offset: u64,
        /// Header bytes that were present.
        have: usize,
    },

    /// Any other framing error reported by `ngtt-proto`.
    #[error("frame at byte {offset}: {source}")]
    Frame {
        /// Stream offset of the frame's first byte.
        offset: u64,
        /// What the codec reported.
        source: ngtt_proto::ProtoError,
    },

    /// Frames were decoded, but some payloads were not valid MiniJSON (each was already reported
    /// on its own line).
    #[error("{bad} of {frames} frame(s) had a payload that is not valid MiniJSON")]
    BadPayloads {
        /// Frames whose payload did not decode.
        bad: u64,
        /// All frames decoded.
        frames: u64,
    },

    /// Reading the input or writing the output failed.
    #[error("{context}: {source}")]
    Io {
        /// What was being done, e.g. `"reading stdin"`.
        context: &'static str,
        /// The underlying error.
        source: io::Error,
    },

    /// Making or reading PKI files failed (`ngtt pki`).
    #[error("{0}")]
    Pki(#[from] ngtt_pki::PkiError),

    /// The server could not start, or failed (`ngtt serve`).
    #[error("{0}")]
    Server(#[from] ngtt_server::ServerError),

    /// The admin API could not be reached, or answered with an error (`ngtt order`).
    #[error("{0}")]
    Admin(String),

    /// The device could not be configured or its transport failed (`ngtt device`).
    #[error("{0}")]
    Transport(#[from] ngtt_transport::TransportError),

    /// A `smok-client` device failed (`ngtt demo`).
    #[error("{0}")]
    Client(#[from] smok_client::ClientError),

    /// The server's storage failed (`ngtt demo` reads it back).
    #[error("{0}")]
    Storage(#[from] ngtt_server::StorageError),

    /// The demo could not run, or something it checks went wrong (`ngtt demo`).
    #[error("demo: {0}")]
    Demo(String),

    /// A benchmark could not run (`ngtt bench`).
    #[error("bench: {0}")]
    Bench(String),
}

/// `" at byte N"` when the MiniJSON error knows its offset, else nothing.
fn at_byte(err: &minijson::Error) -> String {
    err.offset().map_or_else(String::new, |o| format!(" at byte {o}"))
}

impl CliError {
    /// An error while reading stdin.
    pub fn read(source: io::Error) -> CliError {
        CliError::Io {
            context: "reading stdin",
            source,
        }
    }

    /// An error while writing stdout.
    pub fn write(source: io::Error) -> CliError {
        CliError::Io {
            context: "writing stdout",
            source,
        }
    }

    /// The process exit status for this error.
    pub fn exit_code(&self) -> u8 {
        EXIT_BAD_INPUT
    }

    /// True when stdout was closed by the reader (e.g. `ngtt ... | head`): not worth a message.
    pub fn is_broken_pipe(&self) -> bool {
        matches!(self, CliError::Io { source, .. } if source.kind() == io::ErrorKind::BrokenPipe)
    }
}

impl From<serde_json::Error> for CliError {
    /// Splits serde_json's `"<reason> at line L column C"` into its parts.
    fn from(err: serde_json::Error) -> CliError {
        let (line, column) = (err.line(), err.column());
        let text = err.to_string();
        let suffix = format!(" at line {line} column {column}");
        let reason = text.strip_suffix(&suffix).unwrap_or(&text).to_owned();
        CliError::InvalidJson { line, column, reason }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_error_message_has_one_position() {
        let err: CliError = serde_json::from_str::<serde_json::Value>("{\"a\":")
            .unwrap_err()
            .into();
        assert_eq!(
            err.to_string(),
            "invalid JSON at line 1 column 5: EOF while parsing a value"
        );
    }

    #[test]
    fn minijson_error_names_the_offset() {
        let err = minijson::from_slice::<minijson::Value>(&[0x43, 8, 8, 0x1c]).unwrap_err();
        assert_eq!(
            CliError::InvalidMiniJson(err).to_string(),
            "invalid MiniJSON at byte 3: invalid tag 0x1c at byte 3"
        );
    }
}
