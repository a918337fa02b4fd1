//! `ngtt frame decode`: print a stream of NGTT frames (NGTT.md §2–3) as JSON lines.

use std::io::{Read, Write};

use bytes::BytesMut;
use clap::{Args, Subcommand};
use ngtt_proto::{Frame, FrameHeader, ProtoError, DEFAULT_MAX_FRAME_LEN, HEADER_LEN};
use serde_json::{json, Map, Value as Json};

use crate::error::{CliError, PREFIX};
use crate::io::{for_each_chunk, read_hex};

/// Examples shown by `ngtt frame --help`.
const FRAME_EXAMPLES: &str = "\
Examples:
  echo '00000002 0001 0000 414c' | ngtt frame decode --hex
  ngtt frame decode < capture.bin";

/// Examples shown by `ngtt frame decode --help`.
const DECODE_EXAMPLES: &str = "\
Examples:
  echo '00000000 0001 0000' | ngtt frame decode --hex
      {\"tid\":1,\"type\":\"PING\",\"length\":0,\"payload\":null}
  echo '00000002 0007 0001 4108' | ngtt frame decode --hex
      {\"tid\":7,\"type\":\"ORDER\",\"length\":2,\"payload\":[null]}
  ngtt frame decode --max-frame-len 65536 < capture.bin";

/// The `frame` subcommands.
#[derive(Debug, Subcommand)]
#[command(after_help = FRAME_EXAMPLES)]
pub enum FrameCommand {
    /// Decode a stream of NGTT frames from stdin and print one JSON line per frame.
    #[command(
        long_about = "Decode a stream of NGTT frames from stdin (raw bytes, or hex text with \
                      --hex) and print one JSON line per frame as soon as it is complete:\n\n  \
                      {\"tid\": 1, \"type\": \"PING\", \"length\": 2, \"payload\": ...}\n\n\
                      `type` is the spec's name, or the number for an unknown type. `payload` is \
                      the MiniJSON payload as JSON (tagged like `ngtt minijson decode`), or null \
                      when empty. A payload that is not valid MiniJSON is printed as \
                      \"payload\": null with \"payload_hex\" and \"error\" fields, reported on \
                      stderr with its frame's byte offset, and decoding goes on; the exit status \
                      is then 1. A framing error (a length over the maximum, a stream ending \
                      inside a frame) stops decoding at once with status 1 and names the byte \
                      offset of the frame in the stream.",
        after_help = DECODE_EXAMPLES
    )]
    Decode(DecodeArgs),
}

/// Options of `ngtt frame decode`.
#[derive(Debug, Args)]
pub struct DecodeArgs {
    /// Read hex text (either case, white space ignored) instead of raw bytes.
    #[arg(long)]
    pub hex: bool,

    /// Largest payload length accepted, in bytes; a longer frame is a framing error.
    #[arg(long, value_name = "N", default_value_t = DEFAULT_MAX_FRAME_LEN)]
    pub max_frame_len: usize,
}

/// Runs a `frame` subcommand: frame lines go to `output`, per-frame problems to `diag`.
pub fn run(
    cmd: &FrameCommand,
    input: &mut dyn Read,
    output: &mut dyn Write,
    diag: &mut dyn Write,
) -> Result<(), CliError> {
    match cmd {
        FrameCommand::Decode(args) => decode(args, input, output, diag),
    }
}

/// `ngtt frame decode`.
fn decode(
    args: &DecodeArgs,
    input: &mut dyn Read,
    output: &mut dyn Write,
    diag: &mut dyn Write,
) -> Result<(), CliError> {
    let mut stream = FrameStream::new(args.max_frame_len);
    if args.hex {
        let bytes = read_hex(input)?;
        stream.feed(&bytes, output, diag)?;
    } else {
        for_each_chunk(input, |chunk| {
            stream.feed(chunk, output, diag)?;
            // Show what is complete before waiting for more input.
            output.flush().map_err(CliError::write)
        })?;
    }
    stream.finish()
}

/// Incremental decoder of a frame stream that remembers where in the stream it is.
#[derive(Debug)]
pub struct FrameStream {
    /// Bytes received but not yet part of a complete frame.
    buf: BytesMut,
    /// Stream offset of `buf[0]`.
    offset: u64,
    /// Largest accepted payload length.
    max_len: usize,
    /// Frames decoded so far.
    frames: u64,
    /// Frames whose payload was not valid MiniJSON.
    bad_payloads: u64,
}

impl FrameStream {
    /// A decoder at the start of a stream, accepting payloads of at most `max_len` bytes.
    pub fn new(max_len: usize) -> FrameStream {
        FrameStream {
            buf: BytesMut::new(),
            offset: 0,
            max_len,
            frames: 0,
            bad_payloads: 0,
        }
    }

    /// Appends `data` to the stream and prints every frame it completes, one JSON line each, on
    /// `output`; an undecodable payload is also reported on `diag`. Fails on a framing error.
    pub fn feed(
        &mut self,
        data: &[u8],
        output: &mut dyn Write,
        diag: &mut dyn Write,
    ) -> Result<(), CliError> {
        self.buf.extend_from_slice(data);
        loop {
            let frame = match ngtt_proto::decode(&mut self.buf, self.max_len) {
                Ok(Some(frame)) => frame,
                Ok(None) => return Ok(()),
                Err(ProtoError::FrameTooLarge { len, max }) => {
                    return Err(CliError::FrameTooLarge {
                        offset: self.offset,
                        len,
                        max,
                    })
                }
                Err(source) => {
                    return Err(CliError::Frame {
                        offset: self.offset,
                        source,
                    })
                }
            };
            let line = self.frame_line(&frame, diag)?;
            serde_json::to_writer(&mut *output, &line).map_err(|e| CliError::write(e.into()))?;
            output.write_all(b"\n").map_err(CliError::write)?;
            self.offset += (HEADER_LEN + frame.payload.len()) as u64;
            self.frames += 1;
        }
    }

    /// Ends the stream: fails if it stopped inside a frame or if any payload was bad.
    pub fn finish(self) -> Result<(), CliError> {
        let have = self.buf.len();
        if have > 0 {
            return Err(match FrameHeader::parse(&self.buf) {
                Some(header) => CliError::TruncatedFrame {
                    offset: self.offset,
                    need: header.frame_len(),
                    have,
                },
                None => CliError::TruncatedHeader {
                    offset: self.offset,
                    have,
                },
            });
        }
        if self.bad_payloads > 0 {
            return Err(CliError::BadPayloads {
                bad: self.bad_payloads,
                frames: self.frames,
            });
        }
        Ok(())
    }

    /// The JSON line for `frame`, which starts at `self.offset`.
    fn frame_line(&mut self, frame: &Frame, diag: &mut dyn Write) -> Result<Json, CliError> {
        let kind = if frame.kind.is_known() {
            json!(frame.kind.name())
        } else {
            json!(frame.kind.as_u16())
        };
        let mut line = Map::new();
        line.insert("tid".into(), json!(frame.tid));
        line.insert("type".into(), kind);
        line.insert("length".into(), json!(frame.payload.len()));
        if frame.payload.is_empty() {
            line.insert("payload".into(), Json::Null);
            return Ok(Json::Object(line));
        }
        match minijson::from_slice::<minijson::Value>(&frame.payload) {
            Ok(value) => {
                line.insert("payload".into(), value.into());
            }
            Err(err) => {
                let reason = payload_error(&err);
                writeln!(diag, "{PREFIX}frame at byte {}: {reason}", self.offset).map_err(|source| {
                    CliError::Io {
                        context: "writing stderr",
                        source,
                    }
                })?;
                self.bad_payloads += 1;
                line.insert("payload".into(), Json::Null);
                line.insert("payload_hex".into(), json!(minijson::hex::to_hex(&frame.payload)));
                line.insert("error".into(), json!(reason));
            }
        }
        Ok(Json::Object(line))
    }
}

/// Why a payload is not valid MiniJSON, with the offset inside the payload when known.
fn payload_error(err: &minijson::Error) -> String {
    match err.offset() {
        Some(at) => format!("payload is not valid MiniJSON at payload byte {at}: {err}"),
        None => format!("payload is not valid MiniJSON: {err}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The spec's PING (with an invalid payload), an ORDER with `[null]`, then an unknown type.
    const STREAM: &[u8] = &[
        0, 0, 0, 2, 0, 1, 0, 0, 0x41, 0x4c, // PING tid 1, "AL"
        0, 0, 0, 2, 0, 7, 0, 1, 0x41, 0x08, // ORDER tid 7, [null]
        0, 0, 0, 0, 0, 0, 0, 99, // type 99, empty
    ];

    #[test]
    fn byte_by_byte_feeding_gives_the_same_lines() {
        let (mut whole, mut split) = (Vec::new(), Vec::new());
        let (mut diag1, mut diag2) = (Vec::new(), Vec::new());
        let mut s = FrameStream::new(DEFAULT_MAX_FRAME_LEN);
        s.feed(STREAM, &mut whole, &mut diag1).unwrap();
        assert!(matches!(
            s.finish(),
            Err(CliError::BadPayloads { bad: 1, frames: 3 })
        ));
        let mut s = FrameStream::new(DEFAULT_MAX_FRAME_LEN);
        for b in STREAM {
            s.feed(std::slice::from_ref(b), &mut split, &mut diag2).unwrap();
        }
        assert_eq!(whole, split);
        assert_eq!(diag1, diag2);
        let text = String::from_utf8(whole).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 3);
        assert!(lines[0].starts_with(
            r#"{"tid":1,"type":"PING","length":2,"payload":null,"payload_hex":"414c","error":"#
        ));
        assert_eq!(
            lines[1],
            r#"{"tid":7,"type":"ORDER","length":2,"payload":[null]}"#
        );
        assert_eq!(lines[2], r#"{"tid":0,"type":99,"length":0,"payload":null}"#);
        assert!(String::from_utf8(diag1)
            .unwrap()
            .starts_with("ngtt: frame at byte 0: payload is not"));
    }

    #[test]
    fn truncation_is_reported_at_the_frame_start() {
        let mut s = FrameStream::new(DEFAULT_MAX_FRAME_LEN);
        s.feed(&STREAM[..19], &mut Vec::new(), &mut Vec::new()).unwrap();
        let err = s.finish().unwrap_err().to_string();
        assert_eq!(
            err,
            "truncated frame at byte 10: header says 10 bytes, only 9 present"
        );
        let mut s = FrameStream::new(DEFAULT_MAX_FRAME_LEN);
        s.feed(&STREAM[..14], &mut Vec::new(), &mut Vec::new()).unwrap();
        let err = s.finish().unwrap_err().to_string();
        assert_eq!(
            err,
            "truncated frame at byte 10: only 4 of the 8 header bytes present"
        );
    }
}
