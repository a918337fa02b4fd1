//! [`PostgresUrl`]: which PostgreSQL database, schema and pool size a server uses.
//!
//! A standard libpq URL (`postgres://user:password@host:port/dbname?sslmode=…`) plus two
//! parameters of NGTT's own, removed before the URL reaches the driver:
//!
//! * `schema=NAME` — the schema holding the tables (default `public`), created if missing;
//!   several servers or tests can share one database in different schemas. Letters, digits
//!   and `_`, at most 63 bytes.
//! * `pool_size=N` — connections this server opens at most (default [`DEFAULT_POOL_SIZE`]).
//!
//! The password never appears in `Display` or `Debug` output (logs, errors).

use std::fmt;

/// Default of `pool_size`.
pub const DEFAULT_POOL_SIZE: usize = 16;

/// A parsed PostgreSQL URL; see the module documentation.
#[derive(Clone, PartialEq, Eq)]
pub struct PostgresUrl {
    /// The URL without NGTT's parameters, as the driver reads it.
    driver: String,
    schema: String,
    pool_size: usize,
}

impl PostgresUrl {
    /// Whether `text` is a PostgreSQL URL (`postgres://` or `postgresql://`) rather than a
    /// SQLite file path.
    pub fn is_postgres(text: &str) -> bool {
        text.starts_with("postgres://") || text.starts_with("postgresql://")
    }

    /// Parses `text`; the error says what is wrong without repeating the password.
    pub fn parse(text: &str) -> Result<PostgresUrl, String> {
        if !PostgresUrl::is_postgres(text) {
            return Err("a PostgreSQL URL starts with postgres:// or postgresql://".into());
        }
        let (base, query) = text.split_once('?').unwrap_or((text, ""));
        let mut schema = "public".to_owned();
        let mut pool_size = DEFAULT_POOL_SIZE;
        let mut kept = Vec::new();
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            let decoded = percent_encoding::percent_decode_str(value).decode_utf8_lossy();
            match key {
                "schema" => {
                    valid_schema(&decoded)?;
                    schema = decoded.into_owned();
                }
                "pool_size" => {
                    pool_size = decoded
                        .parse()
                        .ok()
                        .filter(|n| (1..=1024).contains(n))
                        .ok_or_else(|| format!("pool_size must be 1 to 1024, not {decoded:?}"))?;
                }
                _ => kept.push(pair),
            }
        }
        let driver = if kept.is_empty() {
            base.to_owned()
        } else {
            format!("{base}?{}", kept.join("&"))
        };
        let url = PostgresUrl {
            driver,
            schema,
            pool_size,
        };
        url.driver_config()?;
        Ok(url)
    }

    /// The schema holding the tables.
    pub fn schema(&self) -> &str {
        &self.schema
    }

    /// Most connections the server opens.
    pub fn pool_size(&self) -> usize {
        self.pool_size
    }

    /// The same database in another schema (tests give each run a schema of its own).
    pub fn with_schema(&self, schema: &str) -> Result<PostgresUrl, String> {
        valid_schema(schema)?;
        Ok(PostgresUrl {
            schema: schema.to_owned(),
            ..self.clone()
        })
    }

    /// The driver's configuration: the URL, with the schema as every connection's search path.
    pub(crate) fn driver_config(&self) -> Result<tokio_postgres::Config, String> {
        let mut config: tokio_postgres::Config =
            self.driver
                .parse()
                .map_err(|e: tokio_postgres::Error| match std::error::Error::source(&e) {
                    // The cause names the option at fault, never its value.
                    Some(cause) => format!("invalid PostgreSQL URL {self}: {e}: {cause}"),
                    None => format!("invalid PostgreSQL URL {self}: {e}"),
                })?;
        let search_path = format!("-c search_path={}", self.schema);
        let options = match config.get_options() {
            Some(given) if !given.is_empty() => format!("{given} {search_path}"),
            _ => search_path,
        };
        config.options(&options);
        if config.get_application_name().is_none() {
            config.application_name("ngtt-server");
        }
        Ok(config)
    }
}

/// Whether `name` can be a schema name here (also safe to put into SQL unquoted).
fn valid_schema(name: &str) -> Result<(), String> {
    let ok = !name.is_empty()
        && name.len() <= 63
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
        && !name.as_bytes()[0].is_ascii_digit();
    if ok {
        Ok(())
    } else {
        Err(format!(
            "schema {:?}: letters, digits and _ only, not starting with a digit, at most 63 bytes",
            name.escape_debug().to_string()
        ))
    }
}

/// `text` with the password of its user info replaced by `***`.
pub fn redact(text: &str) -> String {
    let Some((scheme, rest)) = text.split_once("://") else {
        return text.to_owned();
    };
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    match authority.rsplit_once('@') {
        Some((userinfo, host)) => match userinfo.split_once(':') {
            Some((user, _password)) => format!("{scheme}://{user}:***@{host}{tail}"),
            None => text.to_owned(),
        },
        None => text.to_owned(),
    }
}

impl fmt::Display for PostgresUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (schema {})", redact(&self.driver), self.schema)
    }
}

impl fmt::Debug for PostgresUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PostgresUrl")
            .field("url", &redact(&self.driver))
            .field("schema", &self.schema)
            .field("pool_size", &self.pool_size)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ngtt_parameters_are_taken_out_and_the_password_hidden() {
        let url = PostgresUrl::parse(
            "postgres://app:s3cret@db.example:5433/ngtt?schema=fleet_a&pool_size=4&sslmode=disable",
        )
        .unwrap();
        assert_eq!((url.schema(), url.pool_size()), ("fleet_a", 4));
        let shown = format!("{url} {url:?}");
        assert!(!shown.contains("s3cret"), "{shown}");
        assert!(
            shown.contains("app:***@db.example:5433/ngtt?sslmode=disable"),
            "{shown}"
        );
        let config = url.driver_config().unwrap();
        assert_eq!(config.get_options(), Some("-c search_path=fleet_a"));
        assert_eq!(config.get_dbname(), Some("ngtt"));
    }

    #[test]
    fn defaults_and_refusals() {
        let url = PostgresUrl::parse("postgresql://postgres@127.0.0.1/test").unwrap();
        assert_eq!((url.schema(), url.pool_size()), ("public", DEFAULT_POOL_SIZE));
        assert!(!PostgresUrl::is_postgres("./ngtt.db"));
        assert!(PostgresUrl::parse("./ngtt.db").is_err());
        for bad in ["x;drop", "1abc", "", "a-b"] {
            let err = PostgresUrl::parse(&format!("postgres://u@h/d?schema={bad}")).unwrap_err();
            assert!(err.contains("schema"), "{err}");
        }
        assert!(PostgresUrl::parse("postgres://u@h/d?pool_size=0").is_err());
        let err = PostgresUrl::parse("postgres://u:pw@h/d?bogus=1").unwrap_err();
        assert!(!err.contains(":pw@"), "{err}");
        assert_eq!(redact("postgres://u@h/d"), "postgres://u@h/d");
        assert_eq!(redact("postgres://u:p@ss@h/d"), "postgres://u:***@h/d");
    }
}
