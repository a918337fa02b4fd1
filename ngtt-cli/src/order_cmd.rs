//! `ngtt order`: queue orders and read their state through a server's admin API.

use std::io::{Read, Write};
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Subcommand};
use reqwest::{Method, Url};
use serde_json::Value;

use crate::error::CliError;

/// Examples shown by `ngtt order --help`.
pub const EXAMPLES: &str = r#"Examples:
  ngtt order send --admin http://127.0.0.1:2406 --device dev1 \
      --json '[{"orders": [{"type": "write", "path": "W1", "value": 5}]}]'     # prints the id
  ngtt order send --admin http://127.0.0.1:2406 --device dev1 --file orders.json
  ngtt order send --devices-file fleet.txt --file orders.json   # one order per device listed
  ngtt order status --admin http://127.0.0.1:2406 12
  ngtt order list --admin http://127.0.0.1:2406 --device dev1 --state sent

The token comes from --admin-token-file, NGTT_ADMIN_TOKEN_FILE, NGTT_ADMIN_TOKEN or
./ngtt.db.admin-token (written by `ngtt serve` beside its database). For a server run with
--admin-tls, give an https:// URL and the CA that signed its certificate:
  ngtt order list --admin https://127.0.0.1:2406 --admin-ca pki/ca.pem --device dev1 A non-2xx answer exits with status 1
and the server's reason on stderr."#;

/// Where the admin API is and how to authenticate.
#[derive(Debug, Args)]
pub struct AdminArgs {
    /// Base URL of the server's admin API.
    #[arg(long, value_name = "URL", default_value = "http://127.0.0.1:2406")]
    pub(crate) admin: String,
    /// File holding the bearer token (`ngtt serve` writes `<db>.admin-token`) [env:
    /// NGTT_ADMIN_TOKEN_FILE; else NGTT_ADMIN_TOKEN holds the token; else
    /// ./ngtt.db.admin-token].
    #[arg(long = "admin-token-file", value_name = "PATH")]
    pub(crate) admin_token_file: Option<PathBuf>,
    /// Deprecated: the bearer token itself, visible to every user in `ps`.
    #[arg(long = "admin-token", value_name = "TOKEN", hide = true)]
    pub(crate) admin_token: Option<String>,
    /// PEM file of the CA that signed the admin API's certificate, for an https:// URL of a
    /// server run with `ngtt serve --admin-tls` (its PKI directory's ca.pem) [env:
    /// NGTT_ADMIN_CA].
    #[arg(long = "admin-ca", value_name = "PATH")]
    pub(crate) admin_ca: Option<PathBuf>,
}

/// The environment variable naming the admin API's CA file when `--admin-ca` is not given.
const ADMIN_CA_ENV: &str = "NGTT_ADMIN_CA";

/// The order's sections, given inline or in a file.
#[derive(Debug, Args)]
#[group(required = true, multiple = false)]
pub struct OrderBody {
    /// The list of sections as JSON text.
    #[arg(long, value_name = "JSON")]
    json: Option<String>,
    /// A file holding the list of sections as JSON (`-` for stdin).
    #[arg(long, value_name = "PATH")]
    file: Option<PathBuf>,
}

/// `ngtt order ...`.
#[derive(Debug, Subcommand)]
pub enum OrderCommand {
    /// Queue a list of sections for a device; prints the new order's id.
    #[command(
        after_help = "Example:\n  ngtt order send --admin http://127.0.0.1:2406 --device dev1 \\\n      \
                            --json '[{\"orders\": [{\"type\": \"read\", \"path\": \"W1\"}]}]'"
    )]
    Send {
        #[command(flatten)]
        admin: AdminArgs,
        /// The device id; repeat it (or give --devices-file) to queue the order for each
        /// device, in batches of up to 10 000 (one request and one commit each).
        #[arg(long, value_name = "ID", required_unless_present = "devices_file")]
        device: Vec<String>,
        /// A file of device ids, one per line (blank lines and lines starting with `#` are
        /// skipped), for which to queue the order too.
        #[arg(long, value_name = "PATH")]
        devices_file: Option<PathBuf>,
        #[command(flatten)]
        body: OrderBody,
    },

    /// Print an order as one JSON object ("id", "device", "state", "deliveries", ...).
    #[command(after_help = "Example:\n  ngtt order status --admin http://127.0.0.1:2406 12")]
    Status {
        #[command(flatten)]
        admin: AdminArgs,
        /// The order id.
        #[arg(value_name = "ID")]
        id: i64,
    },

    /// Print a device's orders, oldest first, one JSON object per line.
    #[command(
        after_help = "Example:\n  ngtt order list --admin http://127.0.0.1:2406 --device dev1 --state queued"
    )]
    List {
        #[command(flatten)]
        admin: AdminArgs,
        /// The device id.
        #[arg(long, value_name = "ID")]
        device: String,
        /// Only orders in this state: queued, sent, confirmed or rejected.
        #[arg(long, value_name = "STATE")]
        state: Option<String>,
    },
}

/// `base` + path segments, each percent-encoded.
pub(crate) fn endpoint(base: &str, segments: &[&str]) -> Result<Url, CliError> {
    let mut url =
        Url::parse(base).map_err(|e| CliError::Admin(format!("invalid admin URL {base:?}: {e}")))?;
    url.path_segments_mut()
        .map_err(|()| CliError::Admin(format!("invalid admin URL {base:?}")))?
        .pop_if_empty()
        .extend(segments);
    Ok(url)
}

/// Sends one request with a JSON body (or none); returns the JSON answer of a 2xx, else the
/// server's reason as an error.
pub(crate) async fn call(
    admin: &AdminArgs,
    method: Method,
    url: Url,
    body: Option<Vec<u8>>,
) -> Result<Value, CliError> {
    call_as(admin, method, url, body.map(|b| ("application/json", b))).await
}

/// Like [`call`], with a body of the given media type.
pub(crate) async fn call_as(
    admin: &AdminArgs,
    method: Method,
    url: Url,
    body: Option<(&str, Vec<u8>)>,
) -> Result<Value, CliError> {
    let mut request = request(admin, method, url.clone())?;
    if let Some((media_type, body)) = body {
        request = request
            .header(reqwest::header::CONTENT_TYPE, media_type)
            .body(body);
    }
    let response = request
        .send()
        .await
        .map_err(|e| CliError::Admin(format!("{url}: {e}")))?;
    let status = response.status();
    let text = crate::admin_answer::read(response, &url).await?;
    crate::admin_answer::check_decode(&text)?;
    let json: Option<Value> = serde_json::from_str(&text).ok();
    if !status.is_success() {
        return Err(refused(status, &text));
    }
    json.ok_or_else(|| {
        CliError::Admin(format!(
            "the server's answer is not JSON: {}",
            ngtt_proto::Escaped(&text)
        ))
    })
}

/// A request to the admin API, with the token when one is given.
pub(crate) fn request(
    admin: &AdminArgs,
    method: Method,
    url: Url,
) -> Result<reqwest::RequestBuilder, CliError> {
    let mut builder = reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(10))
        .timeout(Duration::from_secs(60));
    let ca = admin
        .admin_ca
        .clone()
        .or_else(|| std::env::var_os(ADMIN_CA_ENV).map(PathBuf::from));
    if let Some(path) = ca {
        let pem = std::fs::read(&path).map_err(|source| CliError::Io {
            context: "reading the admin API's CA file",
            source,
        })?;
        let ca = reqwest::Certificate::from_pem(&pem)
            .map_err(|e| CliError::Admin(format!("{}: not a PEM certificate: {e}", path.display())))?;
        builder = builder.add_root_certificate(ca);
    }
    let client = builder.build().map_err(|e| CliError::Admin(e.to_string()))?;
    let mut request = client.request(method, url);
    let token =
        crate::admin_token::client_token(admin.admin_token_file.as_deref(), admin.admin_token.as_deref())?;
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    Ok(request)
}

/// The error of a non-2xx answer: the server's `{"status": reason}`, else its text.
pub(crate) fn refused(status: reqwest::StatusCode, text: &str) -> CliError {
    let reason = serde_json::from_str::<Value>(text)
        .ok()
        .as_ref()
        .and_then(|j| j.get("status"))
        .and_then(Value::as_str)
        .map_or_else(|| text.trim().to_owned(), str::to_owned);
    // The reason is the server's text: escaped, so that it cannot drive the terminal.
    CliError::Admin(format!(
        "server answered {status}: {}",
        ngtt_proto::Escaped(&reason)
    ))
}

fn read_body(body: &OrderBody, input: &mut dyn Read) -> Result<Vec<u8>, CliError> {
    match (&body.json, &body.file) {
        (Some(json), _) => Ok(json.clone().into_bytes()),
        (None, Some(path)) if path.as_os_str() == "-" => {
            let mut bytes = Vec::new();
            input.read_to_end(&mut bytes).map_err(CliError::read)?;
            Ok(bytes)
        }
        (None, Some(path)) => std::fs::read(path).map_err(|source| CliError::Io {
            context: "reading the order file",
            source,
        }),
        (None, None) => Err(CliError::Admin("give --json or --file".into())),
    }
}

pub(crate) fn line(out: &mut dyn Write, text: &str) -> Result<(), CliError> {
    writeln!(out, "{text}").map_err(CliError::write)
}

/// Prints the items of a JSON list answer, one per line; `what` names them in the error for
/// any other answer.
pub(crate) fn print_list(out: &mut dyn Write, answer: Value, what: &str) -> Result<(), CliError> {
    let Value::Array(items) = answer else {
        return Err(CliError::Admin(format!(
            "expected a list of {what}, got {answer}"
        )));
    };
    for item in &items {
        line(out, &item.to_string())?;
    }
    Ok(())
}

/// The devices of `--device` and `--devices-file`, in that order.
fn devices(given: &[String], file: Option<&std::path::Path>) -> Result<Vec<String>, CliError> {
    let mut devices = given.to_vec();
    if let Some(path) = file {
        let text = std::fs::read_to_string(path).map_err(|source| CliError::Io {
            context: "reading the devices file",
            source,
        })?;
        devices.extend(
            text.lines()
                .map(str::trim)
                .filter(|l| !l.is_empty() && !l.starts_with('#'))
                .map(str::to_owned),
        );
    }
    if devices.is_empty() {
        return Err(CliError::Admin("no device given".into()));
    }
    Ok(devices)
}

/// Queues `sections` for each of `devices` through `POST /v1/orders`, the server's
/// [`ngtt_server::MAX_ORDER_BATCH`] at a time;
/// prints `{"device", "id"}` per order. Batches already answered stay queued if a later one
/// is refused.
async fn send_batches(
    admin: &AdminArgs,
    devices: &[String],
    sections: &[u8],
    out: &mut dyn Write,
) -> Result<(), CliError> {
    let sections: Value = serde_json::from_slice(sections)
        .map_err(|e| CliError::Admin(format!("the order is not JSON: {e}")))?;
    let url = endpoint(&admin.admin, &["v1", "orders"])?;
    for chunk in devices.chunks(ngtt_server::MAX_ORDER_BATCH) {
        let batch: Vec<Value> = chunk
            .iter()
            .map(|device| serde_json::json!({ "device": device, "sections": sections }))
            .collect();
        let body = serde_json::to_vec(&batch).map_err(|e| CliError::Admin(e.to_string()))?;
        let answer = call(admin, Method::POST, url.clone(), Some(body)).await?;
        print_list(out, answer, "queued orders")?;
    }
    Ok(())
}

async fn run_async(
    command: &OrderCommand,
    input: &mut dyn Read,
    out: &mut dyn Write,
) -> Result<(), CliError> {
    match command {
        OrderCommand::Send {
            admin,
            device,
            devices_file,
            body,
        } => {
            let devices = devices(device, devices_file.as_deref())?;
            let body = read_body(body, input)?;
            match devices.as_slice() {
                [one] => {
                    let url = endpoint(&admin.admin, &["v1", "devices", one, "orders"])?;
                    let answer = call(admin, Method::POST, url, Some(body)).await?;
                    let id = answer
                        .get("id")
                        .and_then(Value::as_i64)
                        .ok_or_else(|| CliError::Admin(format!("no order id in the answer: {answer}")))?;
                    line(out, &id.to_string())
                }
                many => send_batches(admin, many, &body, out).await,
            }
        }
        OrderCommand::Status { admin, id } => {
            let url = endpoint(&admin.admin, &["v1", "orders", &id.to_string()])?;
            let answer = call(admin, Method::GET, url, None).await?;
            line(out, &answer.to_string())
        }
        OrderCommand::List { admin, device, state } => {
            let mut url = endpoint(&admin.admin, &["v1", "devices", device, "orders"])?;
            if let Some(state) = state {
                url.query_pairs_mut().append_pair("state", state);
            }
            let answer = call(admin, Method::GET, url, None).await?;
            print_list(out, answer, "orders")
        }
    }
}

/// Runs `ngtt order ...`; `input` is read for `--file -`.
pub fn run(command: &OrderCommand, input: &mut dyn Read, out: &mut dyn Write) -> Result<(), CliError> {
    let runtime = crate::runtime::runtime(false)?;
    runtime.block_on(run_async(command, input, out))
}
