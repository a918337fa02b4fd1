//! Reading an admin API answer within bounds: the CLI trusts the server no more than the server
//! trusts its peers. At most [`MAX_ANSWER`] bytes are read, and an answer whose decoded form
//! would take more than [`ngtt_server::DEFAULT_ADMIN_DECODE_FACTOR`] times its size (+ 1 MiB)
//! is refused before it is built — the server's own bound on admin bodies.

use crate::error::CliError;

/// The most of one answer the CLI reads: 256 MiB.
pub const MAX_ANSWER: usize = 256 << 20;

/// Headroom of the decode bound, for small answers.
const DECODE_SLACK: usize = 1 << 20;

/// The answer's body as text, at most [`MAX_ANSWER`] bytes.
pub async fn read(mut response: reqwest::Response, url: &reqwest::Url) -> Result<String, CliError> {
    let mut body = Vec::new();
    let reading = |e: reqwest::Error| CliError::Admin(format!("{url}: reading the answer: {e}"));
    while let Some(chunk) = response.chunk().await.map_err(reading)? {
        if body.len() + chunk.len() > MAX_ANSWER {
            return Err(CliError::Admin(format!(
                "{url}: the answer is larger than {MAX_ANSWER} bytes"
            )));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(String::from_utf8_lossy(&body).into_owned())
}

/// Checks that decoding `text` as JSON values stays within the bound; invalid JSON passes (its
/// decoding fails anyway, cheaply).
pub fn check_decode(text: &str) -> Result<(), CliError> {
    let Ok(minijson::ValueCount(values)) = serde_json::from_str::<minijson::ValueCount>(text) else {
        return Ok(());
    };
    let cost = values
        .saturating_mul(std::mem::size_of::<serde_json::Value>())
        .saturating_add(text.len());
    let factor = ngtt_server::DEFAULT_ADMIN_DECODE_FACTOR;
    if cost > text.len().saturating_mul(factor).saturating_add(DECODE_SLACK) {
        return Err(CliError::Admin(format!(
            "the server's answer of {} bytes would take ~{cost} bytes of memory to decode, more \
             than {factor}x its size",
            text.len()
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_of_tiny_values_are_refused() {
        check_decode(r#"[{"id": 1, "device": "dev1", "state": "queued"}]"#).unwrap();
        let zeros = serde_json::to_string(&vec![0u8; 4 << 20]).unwrap();
        assert!(check_decode(&zeros).is_err());
        assert!(check_decode("not json").is_ok());
    }
}
