//! What the resource command families (`ngtt sensor`, `ngtt predicate`, ...) share on top of
//! `order_cmd`'s admin client: a JSON body given inline or in a file, and JSON output (a list
//! is printed one element per line, anything else as one line).

use std::io::{Read, Write};
use std::path::PathBuf;

use clap::Args;
use reqwest::Method;
use serde_json::Value;

use crate::error::CliError;
use crate::order_cmd::{call, endpoint, line, AdminArgs};

/// A JSON document given inline or in a file.
#[derive(Debug, Args)]
#[group(required = true, multiple = false)]
pub struct JsonBody {
    /// The document as JSON text.
    #[arg(long, value_name = "JSON")]
    json: Option<String>,
    /// A file holding the document as JSON (`-` for stdin).
    #[arg(long, value_name = "PATH")]
    file: Option<PathBuf>,
}

impl JsonBody {
    /// The document, checked to be JSON.
    pub fn read(&self, input: &mut dyn Read) -> Result<Value, CliError> {
        let bytes = match (&self.json, &self.file) {
            (Some(json), _) => json.clone().into_bytes(),
            (None, Some(path)) if path.as_os_str() == "-" => {
                let mut bytes = Vec::new();
                input.read_to_end(&mut bytes).map_err(CliError::read)?;
                bytes
            }
            (None, Some(path)) => std::fs::read(path).map_err(|source| CliError::Io {
                context: "reading the JSON file",
                source,
            })?,
            (None, None) => return Err(CliError::Admin("give --json or --file".into())),
        };
        serde_json::from_slice(&bytes).map_err(|e| CliError::Admin(format!("the document is not JSON: {e}")))
    }
}

/// One admin request to `/v1/devices/{device}/{segments...}` (with `query` pairs); prints the
/// answer.
pub async fn request(
    admin: &AdminArgs,
    method: Method,
    device: &str,
    segments: &[&str],
    query: &[(&str, String)],
    body: Option<Value>,
    out: &mut dyn Write,
) -> Result<(), CliError> {
    let mut path = vec!["v1", "devices", device];
    path.extend_from_slice(segments);
    let mut url = endpoint(&admin.admin, &path)?;
    if !query.is_empty() {
        let mut pairs = url.query_pairs_mut();
        for (k, v) in query {
            pairs.append_pair(k, v);
        }
    }
    let body = body.map(|b| b.to_string().into_bytes());
    let answer = call(admin, method, url, body).await?;
    match answer {
        Value::Array(items) => items.iter().try_for_each(|item| line(out, &item.to_string())),
        other => line(out, &other.to_string()),
    }
}
