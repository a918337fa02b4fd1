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
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        // Writing into a Vec cannot fail.
        let compressed = gz.write_all(text.as_bytes()).and_then(|()| gz.finish());
        match compressed.map(|c| base64::encode(&c)) {
            Ok(content) if content.len() < text.len() => LogMessage::Encoded {
                encoding: "base64-gzip".into(),
                content,
            },
            _ => LogMessage::Text(text),
        }
    }

    /// The message text, decompressed if needed.
    pub fn text(&self) -> Result<Cow<'_, str>> {
        match self {
            LogMessage::Text(t) => Ok(Cow::Borrowed(t)),
            LogMessage::Encoded { encoding, content } if encoding == "base64-gzip" => {
                let gz = base64::decode(content).ok_or_else(|| bad("content is not valid base64"))?;
                let mut text = String::new();
                flate2::read::GzDecoder::new(&gz[..])
                    .take(64 << 20)
                    .read_to_string(&mut text)
                    .map_err(|e| bad(&format!("content is not gzip-compressed UTF-8: {e}")))?;
                Ok(Cow::Owned(text))
            }
            LogMessage::Encoded { encoding, .. } => Err(bad(&format!("unknown encoding {encoding:?}"))),
        }
    }
}

fn bad(why: &str) -> ProtoError {
    ProtoError::InvalidPayload(format!("log message: {why}"))
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
    /// The exception's text, if one was logged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exception: Option<String>,
    /// The traceback, if one was logged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub traceback: Option<String>,
}

impl LogRecord {
    /// A record of `message` (compressed when that pays, see [`LogMessage::new`]).
    pub fn new(service: impl Into<String>, when_us: u64, level: Level, message: impl Into<String>) -> Self {
        LogRecord {
            service: service.into(),
            when: when_us,
            message: LogMessage::new(message),
            level,
            exception: None,
            traceback: None,
        }
    }
}
