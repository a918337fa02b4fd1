//! LOGS payloads (NGTT.md §6): a list of log records.

use std::borrow::Cow;
use std::io::{Read, Write};

use serde::{Deserialize, Serialize};

use super::base64;
use crate::error::{ProtoError, Result};

/// A Python `logging` level: 10 debug, 20 info, 30 warning, 40 error, 50 critical (other
/// numbers are allowed, as in Python).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Level(pub u16);

impl Level {
    /// 10.
    pub const DEBUG: Level = Level(10);
    /// 20.
    pub const INFO: Level = Level(20);
    /// 30.
    pub const WARNING: Level = Level(30);
    /// 40.
    pub const ERROR: Level = Level(40);
    /// 50.
    pub const CRITICAL: Level = Level(50);
}

/// Messages longer than this many characters may be sent compressed.
pub const COMPRESS_THRESHOLD: usize = 1000;

/// A log message: plain text, or gzip-compressed and base64-encoded.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum LogMessage {
    /// Plain text.
    Text(String),
    /// `{"encoding": "base64-gzip", "content": ...}`.
    Encoded {
        /// The encoding; `base64-gzip` is the only one defined.
        encoding: String,
        /// The encoded message.
        content: String,
    },
}

impl LogMessage {
    /// The message as sent on the wire: compressed when it is longer than
    /// [`COMPRESS_THRESHOLD`] characters and compression makes it shorter, plain otherwise.
    pub fn new(text: impl Into<String>) -> LogMessage {
        let text = text.into();
        if text.chars().count() <= COMPRESS_THRESHOLD {
            return LogMessage::Text(text);
        }
        // Level 8, as the published clients compress.
        let content = deflate_base64_gzip(text.as_bytes(), 8);
        if content.len() < text.len() {
            LogMessage::Encoded {
                encoding: "base64-gzip".into(),
                content,
            }
        } else {
            LogMessage::Text(text)
        }
    }

    /// The message text, decompressed if needed (at most [`MAX_INFLATED`] bytes).
    pub fn text(&self) -> Result<Cow<'_, str>> {
        self.text_within(MAX_INFLATED)
    }

    /// The message text, decompressed if needed; a compressed message that inflates to more
    /// than `limit` bytes is an error (nothing beyond `limit + 1` bytes is ever inflated).
    pub fn text_within(&self, limit: usize) -> Result<Cow<'_, str>> {
        match self {
            LogMessage::Text(t) => Ok(Cow::Borrowed(t)),
            LogMessage::Encoded { encoding, content } if encoding == "base64-gzip" => {
                let bytes = inflate_base64_gzip(content, limit).map_err(|why| bad("log message", &why))?;
                String::from_utf8(bytes)
                    .map(Cow::Owned)
                    .map_err(|_| bad("log message", "content is not UTF-8"))
            }
            LogMessage::Encoded { encoding, .. } => {
                Err(bad("log message", &format!("unknown encoding {encoding:?}")))
            }
        }
    }
}

/// Default bound of what one compressed field (a message or a traceback) may inflate to:
/// 1 MiB.
pub const MAX_INFLATED: usize = 1 << 20;

fn bad(what: &str, why: &str) -> ProtoError {
    ProtoError::InvalidPayload(format!("{what}: {why}"))
}

/// base64 (standard, padded) of gzip of `data` at `level` (0–9).
pub(crate) fn deflate_base64_gzip(data: &[u8], level: u32) -> String {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::new(level.min(9)));
    // Writing into a Vec cannot fail.
    let compressed = gz.write_all(data).and_then(|()| gz.finish()).unwrap_or_default();
    base64::encode(&compressed)
}

/// The bytes inside base64 of gzip, at most `limit` of them: more is an error, found after
/// inflating `limit + 1` bytes at most.
pub(crate) fn inflate_base64_gzip(content: &str, limit: usize) -> std::result::Result<Vec<u8>, String> {
    let gz = base64::decode(content).ok_or_else(|| "content is not valid base64".to_owned())?;
    let mut out = Vec::new();
    let cap = u64::try_from(limit).unwrap_or(u64::MAX).saturating_add(1);
    flate2::read::GzDecoder::new(&gz[..])
        .take(cap)
        .read_to_end(&mut out)
        .map_err(|e| format!("content is not gzip-compressed: {e}"))?;
    if out.len() > limit {
        return Err(format!("content inflates to more than {limit} bytes"));
    }
    Ok(out)
}

/// One log record.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogRecord {
    /// The service that logged it.
    pub service: String,
    /// Microseconds since the epoch; strictly increasing per device.
    pub when: u64,
    /// The message.
    pub message: LogMessage,
    /// The level.
    pub level: Level,
    /// `exception_text`: the formatted exception, if one was logged (multi-line text).
    #[serde(default, skip_serializing_if = "Option::is_none", alias = "exception")]
    pub exception_text: Option<String>,
    /// `exception_traceback`: the machine-readable traceback, if one was logged: base64 of gzip
    /// of compact JSON (HTTP-API.md §8). Build it with [`LogRecord::with_exception`], read it
    /// with [`LogRecord::traceback_json`].
    #[serde(default, skip_serializing_if = "Option::is_none", alias = "traceback")]
    pub exception_traceback: Option<String>,
}

impl LogRecord {
    /// A record of `message` (compressed when that pays, see [`LogMessage::new`]).
    pub fn new(service: impl Into<String>, when_us: u64, level: Level, message: impl Into<String>) -> Self {
        LogRecord {
            service: service.into(),
            when: when_us,
            message: LogMessage::new(message),
            level,
            exception_text: None,
            exception_traceback: None,
        }
    }

    /// This record with an exception: `text` as `exception_text`, and `traceback_json` (one
    /// JSON document, see HTTP-API.md §8) gzip-compressed (level 9, as the published clients
    /// do) and base64-encoded as `exception_traceback`. The two keys always travel together.
    pub fn with_exception(mut self, text: impl Into<String>, traceback_json: &[u8]) -> Self {
        self.exception_text = Some(text.into());
        self.exception_traceback = Some(deflate_base64_gzip(traceback_json, 9));
        self
    }

    /// The JSON text inside `exception_traceback`, inflated to at most `limit` bytes; `None`
    /// when the record has no traceback. An error when it is not base64 of gzip of UTF-8, or
    /// inflates to more than `limit` bytes. (Whether the text is well-formed JSON is for the
    /// caller to judge.)
    pub fn traceback_json(&self, limit: usize) -> Result<Option<String>> {
        self.exception_traceback
            .as_deref()
            .map(|t| decode_traceback(t, limit))
            .transpose()
    }
}

/// The JSON text inside an `exception_traceback` value (base64 of gzip), inflated to at most
/// `limit` bytes.
pub fn decode_traceback(encoded: &str, limit: usize) -> Result<String> {
    let bytes = inflate_base64_gzip(encoded, limit).map_err(|why| bad("exception_traceback", &why))?;
    String::from_utf8(bytes).map_err(|_| bad("exception_traceback", "content is not UTF-8"))
}
