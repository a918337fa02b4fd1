//! `ngtt minijson encode|decode`: convert between JSON and MiniJSON on stdin/stdout.

use std::io::{Read, Write};

use clap::{Args, Subcommand};
use minijson::Value;

use crate::error::CliError;
use crate::io::read_input;

/// Examples shown by `ngtt minijson --help`.
const MINIJSON_EXAMPLES: &str = "\
Examples:
  echo '{\"a\":1}' | ngtt minijson encode --hex     # prints 5101610301
  echo 5101610301 | ngtt minijson decode --hex     # prints {\"a\":1}";

/// Examples shown by `ngtt minijson encode --help`.
const ENCODE_EXAMPLES: &str = "\
Examples:
  echo '{\"a\":1}' | ngtt minijson encode --hex
      5101610301
  echo '{\"$bytes\":\"00ff\"}' | ngtt minijson encode --hex --tagged
      190200ff
  ngtt minijson encode < order.json > order.mj";

/// Examples shown by `ngtt minijson decode --help`.
const DECODE_EXAMPLES: &str = "\
Examples:
  echo 5101610301 | ngtt minijson decode --hex
      {\"a\":1}
  echo '19 02 00 ff' | ngtt minijson decode --hex
      {\"$bytes\":\"00ff\"}
  ngtt minijson decode --pretty < order.mj";

/// The `minijson` subcommands.
#[derive(Debug, Subcommand)]
#[command(after_help = MINIJSON_EXAMPLES)]
pub enum MinijsonCommand {
    /// Read JSON on stdin and write it as one MiniJSON document on stdout.
    #[command(
        long_about = "Read one JSON document on stdin and write it as one MiniJSON document on \
                      stdout, in the shortest (canonical) encoding.\n\n\
                      Plain JSON by default; with --tagged, objects of the form {\"$bytes\": hex}, \
                      {\"$map\": [[key, value], ...]}, {\"$f32\": x} and {\"$f64\": x} become \
                      binary data, a map with non-string keys and floats of that width (the \
                      mapping `ngtt minijson decode` writes).",
        after_help = ENCODE_EXAMPLES
    )]
    Encode(EncodeArgs),

    /// Read one MiniJSON document on stdin and write it as JSON on stdout.
    #[command(
        long_about = "Read exactly one MiniJSON document on stdin (raw bytes, or hex text with \
                      --hex) and write it as one line of JSON on stdout.\n\n\
                      Values JSON cannot hold are tagged: binary data as {\"$bytes\": hex}, maps \
                      with a non-string key as {\"$map\": [[key, value], ...]}; NaN and infinite \
                      floats become null. Invalid input, including bytes after the document, \
                      fails with the byte offset of the problem.",
        after_help = DECODE_EXAMPLES
    )]
    Decode(DecodeArgs),
}

/// Options of `ngtt minijson encode`.
#[derive(Debug, Args)]
pub struct EncodeArgs {
    /// Write lowercase hex text and a newline instead of raw bytes.
    #[arg(long)]
    pub hex: bool,

    /// Interpret the $bytes, $map, $f32 and $f64 tags instead of reading them as plain objects.
    #[arg(long)]
    pub tagged: bool,
}

/// Options of `ngtt minijson decode`.
#[derive(Debug, Args)]
pub struct DecodeArgs {
    /// Read hex text (either case, white space ignored) instead of raw bytes.
    #[arg(long)]
    pub hex: bool,

    /// Write indented JSON over several lines instead of one compact line.
    #[arg(long)]
    pub pretty: bool,

    /// Refuse input whose decoding would take more memory than this, in bytes (estimated
    /// before decoding: a value costs tens of bytes however short its encoding).
    #[arg(long = "max-memory", value_name = "BYTES", default_value_t = DEFAULT_MAX_MEMORY)]
    pub max_memory: usize,
}

/// Default of `ngtt minijson decode --max-memory`: 1 GiB.
pub const DEFAULT_MAX_MEMORY: usize = 1 << 30;

/// Runs a `minijson` subcommand, reading `input` and writing `output`.
pub fn run(cmd: &MinijsonCommand, input: &mut dyn Read, output: &mut dyn Write) -> Result<(), CliError> {
    match cmd {
        MinijsonCommand::Encode(args) => encode(args, input, output),
        MinijsonCommand::Decode(args) => decode(args, input, output),
    }
}

/// `ngtt minijson encode`.
fn encode(args: &EncodeArgs, input: &mut dyn Read, output: &mut dyn Write) -> Result<(), CliError> {
    let text = read_input(input, false)?;
    let json: serde_json::Value = serde_json::from_slice(&text)?;
    let value = if args.tagged {
        Value::from_tagged_json(json).map_err(CliError::InvalidTaggedJson)?
    } else {
        Value::from(json)
    };
    let bytes = minijson::to_vec(&value).map_err(CliError::Encode)?;
    if args.hex {
        writeln!(output, "{}", minijson::hex::to_hex(&bytes)).map_err(CliError::write)
    } else {
        output.write_all(&bytes).map_err(CliError::write)
    }
}

/// `ngtt minijson decode`.
fn decode(args: &DecodeArgs, input: &mut dyn Read, output: &mut dyn Write) -> Result<(), CliError> {
    let bytes = read_input(input, args.hex)?;
    // The MiniJSON values, their JSON form and the text all live at once: about three trees.
    let tree = minijson::decoded_size_estimate(&bytes).map_err(CliError::InvalidMiniJson)?;
    let need = tree.saturating_mul(3);
    if need > args.max_memory {
        return Err(CliError::OverBudget {
            need,
            max: args.max_memory,
        });
    }
    let value: Value = minijson::from_slice(&bytes).map_err(CliError::InvalidMiniJson)?;
    let json = serde_json::Value::from(value);
    let text = if args.pretty {
        serde_json::to_string_pretty(&json)
    } else {
        serde_json::to_string(&json)
    }
    .map_err(|e| CliError::write(e.into()))?;
    writeln!(output, "{text}").map_err(CliError::write)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run_str(cmd: MinijsonCommand, input: &[u8]) -> Result<Vec<u8>, CliError> {
        let mut out = Vec::new();
        run(&cmd, &mut &input[..], &mut out)?;
        Ok(out)
    }

    #[test]
    fn decode_is_bounded() {
        let nulls = minijson::to_vec(&vec![(); 1 << 20]).unwrap();
        let dec = |max_memory| {
            MinijsonCommand::Decode(DecodeArgs {
                hex: false,
                pretty: false,
                max_memory,
            })
        };
        let err = run_str(dec(32 << 20), &nulls).unwrap_err();
        assert!(matches!(err, CliError::OverBudget { .. }), "{err}");
        assert!(run_str(dec(DEFAULT_MAX_MEMORY), &nulls).is_ok());
    }

    #[test]
    fn encode_and_decode_hex() {
        let enc = MinijsonCommand::Encode(EncodeArgs {
            hex: true,
            tagged: false,
        });
        assert_eq!(run_str(enc, b"{\"a\":1}").unwrap(), b"5101610301\n");
        let dec = MinijsonCommand::Decode(DecodeArgs {
            max_memory: DEFAULT_MAX_MEMORY,
            hex: true,
            pretty: false,
        });
        assert_eq!(run_str(dec, b"51 01 61 03 01\n").unwrap(), b"{\"a\":1}\n");
    }

    #[test]
    fn tagged_only_when_asked() {
        let tagged = MinijsonCommand::Encode(EncodeArgs {
            hex: true,
            tagged: true,
        });
        assert_eq!(run_str(tagged, b"{\"$bytes\":\"00ff\"}").unwrap(), b"190200ff\n");
        let plain = MinijsonCommand::Encode(EncodeArgs {
            hex: true,
            tagged: false,
        });
        let out = run_str(plain, b"{\"$bytes\":\"00ff\"}").unwrap();
        assert!(out.starts_with(b"5106"), "{}", String::from_utf8_lossy(&out));
    }
}
