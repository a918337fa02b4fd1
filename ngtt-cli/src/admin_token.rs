//! Where the CLI finds the admin API's bearer token, for `ngtt serve` and for every command
//! that calls the admin API.
//!
//! A client command takes the first of:
//! 1. `--admin-token-file PATH`;
//! 2. `--admin-token TOKEN` (deprecated: the command line shows in `ps`; a warning is printed);
//! 3. `NGTT_ADMIN_TOKEN_FILE` (a path);
//! 4. `NGTT_ADMIN_TOKEN` (the token itself);
//! 5. `./ngtt.db.admin-token`, the file `ngtt serve` writes beside its default database, when
//!    it exists.
//!
//! `ngtt serve` uses `--admin-token` (deprecated) or `NGTT_ADMIN_TOKEN` when given, else the
//! token in `--admin-token-file` (default `<db>.admin-token`), generating it at first start.

use std::path::{Path, PathBuf};

use crate::error::CliError;

/// The environment variable naming a token file.
pub const TOKEN_FILE_ENV: &str = "NGTT_ADMIN_TOKEN_FILE";
/// The environment variable holding the token itself.
pub const TOKEN_ENV: &str = "NGTT_ADMIN_TOKEN";
/// The token file of `ngtt serve`'s default database, looked for last.
pub const DEFAULT_TOKEN_FILE: &str = "ngtt.db.admin-token";

/// Warns on stderr that `--admin-token` puts the token where `ps` shows it.
pub fn warn_deprecated_flag() {
    eprintln!(
        "warning: --admin-token shows the token to every user of this machine (ps); \
         use --admin-token-file or {TOKEN_FILE_ENV} instead"
    );
}

/// Reads a token file (trimmed; an empty file is an error).
pub fn read_token_file(path: &Path) -> Result<String, CliError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| CliError::Admin(format!("reading the admin token file {}: {e}", path.display())))?;
    let token = text.trim();
    if token.is_empty() {
        return Err(CliError::Admin(format!(
            "the admin token file {} is empty",
            path.display()
        )));
    }
    Ok(token.to_owned())
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

/// The token a client command sends (see the module documentation for the order).
pub fn client_token(file: Option<&Path>, flag: Option<&str>) -> Result<Option<String>, CliError> {
    if let Some(file) = file {
        return read_token_file(file).map(Some);
    }
    if let Some(token) = flag.filter(|t| !t.is_empty()) {
        warn_deprecated_flag();
        return Ok(Some(token.to_owned()));
    }
    if let Some(file) = env(TOKEN_FILE_ENV) {
        return read_token_file(&PathBuf::from(file)).map(Some);
    }
    if let Some(token) = env(TOKEN_ENV) {
        return Ok(Some(token));
    }
    let default = Path::new(DEFAULT_TOKEN_FILE);
    if default.exists() {
        return read_token_file(default).map(Some);
    }
    Ok(None)
}

/// The token `ngtt serve` is given directly (`--admin-token`, deprecated, or
/// `NGTT_ADMIN_TOKEN`); `None`: it uses its token file.
pub fn serve_token(flag: Option<&str>) -> Option<String> {
    if let Some(token) = flag.filter(|t| !t.is_empty()) {
        warn_deprecated_flag();
        return Some(token.to_owned());
    }
    env(TOKEN_ENV)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_files() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t");
        std::fs::write(&path, "abc\n").unwrap();
        assert_eq!(
            client_token(Some(&path), Some("flag")).unwrap().as_deref(),
            Some("abc")
        );
        std::fs::write(&path, "\n").unwrap();
        assert!(read_token_file(&path).is_err());
        assert!(read_token_file(&dir.path().join("missing")).is_err());
    }
}
