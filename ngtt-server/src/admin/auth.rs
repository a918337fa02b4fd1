//! The admin API's guards: the bearer token (always required), the `Host` header (against DNS
//! rebinding), browser `Origin`s (against cross-site requests) and the body's `Content-Type`
//! (a cross-site `text/plain` POST needs no CORS preflight, so JSON bodies must say so).
//!
//! The token comes from [`crate::ServerConfig::admin_token`], else from the token file
//! ([`crate::ServerConfig::admin_token_file`], by default `<database>.admin-token` beside the
//! database), generated with 256 random bits at first start and written with mode 0600.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::header::{
    AUTHORIZATION, CONTENT_LENGTH, CONTENT_TYPE, HOST, ORIGIN, TRANSFER_ENCODING, WWW_AUTHENTICATE,
};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::reply::ApiError;
use super::AdminState;
use crate::error::ServerError;
use ngtt_proto::Escaped;

/// The content type of raw BAOB uploads (`PUT /v1/devices/{id}/baobs/{key}`), the one body
/// the admin API takes that is not JSON.
pub const BAOB_CONTENT_TYPE: &str = "application/octet-stream";

/// The token file used when [`crate::ServerConfig::admin_token_file`] is not set:
/// `<database file name>.admin-token` in the database's directory.
pub fn default_token_file(db_path: &Path) -> PathBuf {
    let mut name = db_path
        .file_name()
        .map(|n| n.to_os_string())
        .unwrap_or_else(|| "ngtt.db".into());
    name.push(".admin-token");
    db_path.with_file_name(name)
}

/// The admin token and whether it was generated just now.
#[derive(Debug)]
pub(crate) struct ResolvedToken {
    /// The bearer token.
    pub token: String,
    /// The file it was read from or written to, unless it was configured directly.
    pub file: Option<PathBuf>,
    /// Whether this start generated it (the file did not exist).
    pub generated: bool,
}

/// The token `configured`, else the one in `file`, else a new one written to `file` (0600).
pub(crate) fn resolve_token(configured: Option<&str>, file: &Path) -> Result<ResolvedToken, ServerError> {
    if let Some(token) = configured {
        return Ok(ResolvedToken {
            token: token.to_owned(),
            file: None,
            generated: false,
        });
    }
    let read_err = |source| ServerError::ReadFile {
        path: file.to_owned(),
        source,
    };
    match std::fs::read_to_string(file) {
        Ok(text) => {
            let token = text.trim().to_owned();
            if token.is_empty() {
                return Err(ServerError::Config(format!(
                    "the admin token file {} is empty",
                    file.display()
                )));
            }
            Ok(ResolvedToken {
                token,
                file: Some(file.to_owned()),
                generated: false,
            })
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let token = generate_token()?;
            crate::private_file::create_private(file, &format!("{token}\n")).map_err(read_err)?;
            Ok(ResolvedToken {
                token,
                file: Some(file.to_owned()),
                generated: true,
            })
        }
        Err(e) => Err(read_err(e)),
    }
}

/// 32 random bytes from the TLS provider's generator, hex-encoded.
fn generate_token() -> Result<String, ServerError> {
    let provider = rustls::crypto::ring::default_provider();
    let mut bytes = [0u8; 32];
    provider
        .secure_random
        .fill(&mut bytes)
        .map_err(|_| ServerError::Config("no system randomness for the admin token".into()))?;
    Ok(crate::private_file::hex(&bytes))
}

/// Refuses requests whose `Host` is neither an IP literal, `localhost` nor a configured name
/// (DNS rebinding), and requests from browser origins not explicitly allowed.
pub(crate) async fn check_origin(
    State(state): State<Arc<AdminState>>,
    request: Request,
    next: Next,
) -> Response {
    let headers = request.headers();
    if !host_allowed(headers, &state.hosts) {
        let host = headers
            .get(HOST)
            .map(|h| String::from_utf8_lossy(h.as_bytes()).into_owned());
        tracing::warn!(host = %Escaped(host.as_deref().unwrap_or("")), "admin API: request with an unknown Host refused (add it with --admin-host)");
        return ApiError::new(
            StatusCode::MISDIRECTED_REQUEST,
            "unknown Host; the server accepts IP addresses, localhost and the names given with --admin-host",
        )
        .into_response();
    }
    if let Some(origin) = headers.get(ORIGIN) {
        let allowed = origin
            .to_str()
            .is_ok_and(|o| state.allow_origins.iter().any(|a| a.eq_ignore_ascii_case(o)));
        if !allowed {
            let origin = String::from_utf8_lossy(origin.as_bytes()).into_owned();
            tracing::warn!(origin = %Escaped(&origin), "admin API: browser request refused (allow its origin with --admin-allow-origin)");
            return ApiError::new(
                StatusCode::FORBIDDEN,
                "requests from browser origins are refused unless allowed with --admin-allow-origin",
            )
            .into_response();
        }
    }
    next.run(request).await
}

/// Whether the `Host` header names this server: any IP literal (a rebinding attack needs a
/// DNS name), `localhost`, or one of `names`; with or without a port.
fn host_allowed(headers: &HeaderMap, names: &[String]) -> bool {
    // HTTP/2 requests carry the authority in the URI instead; axum puts it in Host for
    // HTTP/1.1, the only version this API serves.
    let Some(host) = headers.get(HOST).and_then(|h| h.to_str().ok()) else {
        return false;
    };
    let name = strip_port(host);
    if name.eq_ignore_ascii_case("localhost") || name.parse::<std::net::IpAddr>().is_ok() {
        return true;
    }
    names
        .iter()
        .any(|n| n.eq_ignore_ascii_case(name) || n.eq_ignore_ascii_case(host))
}

/// `host[:port]` or `[v6][:port]` without the port and brackets.
fn strip_port(host: &str) -> &str {
    if let Some(rest) = host.strip_prefix('[') {
        return rest.split(']').next().unwrap_or(rest);
    }
    match host.rsplit_once(':') {
        Some((name, port)) if !name.contains(':') && port.bytes().all(|b| b.is_ascii_digit()) => name,
        _ => host,
    }
}

/// Checks `Authorization: Bearer <token>` on every request, then that a body is declared JSON
/// (or raw bytes for a BAOB upload).
pub(crate) async fn require_token(
    State(state): State<Arc<AdminState>>,
    request: Request,
    next: Next,
) -> Response {
    let given = request
        .headers()
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    if !given.is_some_and(|g| constant_time_eq(g.trim().as_bytes(), state.token.as_bytes())) {
        let mut response = ApiError::new(
            StatusCode::UNAUTHORIZED,
            "missing or invalid bearer token (see the admin token file beside the database)",
        )
        .into_response();
        response
            .headers_mut()
            .insert(WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        return response;
    }
    if has_body(request.headers()) {
        let baob = is_baob_upload(request.method(), request.uri().path());
        let content_type = request
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(|v| v.split(';').next().unwrap_or("").trim().to_ascii_lowercase());
        let ok = match content_type.as_deref() {
            Some("application/json") => !baob,
            Some(BAOB_CONTENT_TYPE) => baob,
            _ => false,
        };
        if !ok {
            let expected = if baob {
                BAOB_CONTENT_TYPE
            } else {
                "application/json"
            };
            return ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                format!("the body must be sent with Content-Type: {expected}"),
            )
            .into_response();
        }
    }
    next.run(request).await
}

/// Whether a request carries a body: chunked transfer or a non-zero Content-Length (HTTP/1.1
/// requests with neither have none).
fn has_body(headers: &HeaderMap) -> bool {
    headers.contains_key(TRANSFER_ENCODING)
        || headers.get(CONTENT_LENGTH).is_some_and(|v| v.as_bytes() != b"0")
}

/// `PUT /v1/devices/{id}/baobs/{key}`.
fn is_baob_upload(method: &Method, path: &str) -> bool {
    let parts: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    *method == Method::PUT && parts.len() == 5 && parts[..2] == ["v1", "devices"] && parts[3] == "baobs"
}

/// Compares without an early exit on the first difference.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constant_time_eq_works() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"ab"));
    }

    fn host(h: &str) -> HeaderMap {
        let mut m = HeaderMap::new();
        m.insert(HOST, HeaderValue::from_str(h).unwrap());
        m
    }

    #[test]
    fn hosts() {
        let names = vec!["admin.example".to_owned()];
        for ok in [
            "127.0.0.1:2406",
            "localhost:1",
            "[::1]:2406",
            "10.0.0.1",
            "ADMIN.example:2406",
            "localhost",
        ] {
            assert!(host_allowed(&host(ok), &names), "{ok}");
        }
        for bad in ["evil.example:2406", "127.0.0.1.evil.example", "localhost.evil:80"] {
            assert!(!host_allowed(&host(bad), &names), "{bad}");
        }
        assert!(!host_allowed(&HeaderMap::new(), &names));
    }

    #[test]
    fn baob_uploads() {
        assert!(is_baob_upload(&Method::PUT, "/v1/devices/d/baobs/k"));
        assert!(!is_baob_upload(&Method::PUT, "/v1/devices/d/sensors/k"));
        assert!(!is_baob_upload(&Method::POST, "/v1/devices/d/baobs/k"));
    }

    #[test]
    fn token_file_generated_once_with_mode_0600() {
        let dir = tempfile::tempdir().unwrap();
        let file = default_token_file(&dir.path().join("x.db"));
        assert_eq!(file, dir.path().join("x.db.admin-token"));
        let first = resolve_token(None, &file).unwrap();
        assert!(first.generated);
        assert_eq!(first.token.len(), 64);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&file).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let again = resolve_token(None, &file).unwrap();
        assert!(!again.generated);
        assert_eq!(again.token, first.token);
        assert_eq!(resolve_token(Some("t"), &file).unwrap().token, "t");
    }
}
