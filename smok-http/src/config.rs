//! [`HttpConfig`]: the device's certificate and key, whom to trust, where the server is, how
//! to authenticate, and timeouts.

use std::time::Duration;

use ngtt_proto::DeviceIdentity;

use crate::error::HttpError;

/// Default time allowed to connect (TCP and TLS): 10 s.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Default time allowed for a whole request, answer included: 30 s.
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// How the device proves who it is.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum AuthMode {
    /// Mutual TLS: the device presents its certificate in the TLS handshake (production).
    #[default]
    ClientCertificate,
    /// For servers behind a TLS-terminating proxy (staging, local development): no client
    /// certificate in TLS; the certificate PEM goes in the `X-SSL-Client-Certificate` header,
    /// with every newline replaced by a tab. Works over `http://` base URLs too.
    ProxyHeader,
}

/// Everything an [`crate::HttpClient`] needs. Start with [`HttpConfig::new`], then adjust with
/// the `with_…` methods.
#[derive(Clone)]
pub struct HttpConfig {
    pub(crate) cert_pem: String,
    pub(crate) key_pem: String,
    pub(crate) ca_pems: Vec<String>,
    pub(crate) base_url: Option<String>,
    pub(crate) auth: AuthMode,
    pub(crate) connect_timeout: Duration,
    pub(crate) request_timeout: Duration,
    pub(crate) accept_minijson: bool,
}

impl std::fmt::Debug for HttpConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpConfig")
            .field("base_url", &self.base_url)
            .field("auth", &self.auth)
            .field("ca_pems", &self.ca_pems.len())
            .field("connect_timeout", &self.connect_timeout)
            .field("request_timeout", &self.request_timeout)
            .field("accept_minijson", &self.accept_minijson)
            .field("key_pem", &"<redacted>")
            .finish_non_exhaustive()
    }
}

impl HttpConfig {
    /// A configuration for the device whose certificate (chain, leaf first) and private key
    /// (PKCS#8, PKCS#1 or SEC1) are given as PEM. Defaults: client-certificate authentication,
    /// the base URL of the certificate's environment, 10 s to connect, 30 s per request,
    /// answers asked for in MiniJSON, and no CA trusted yet (add one with
    /// [`with_ca_pem`](HttpConfig::with_ca_pem)).
    pub fn new(cert_pem: impl Into<String>, key_pem: impl Into<String>) -> HttpConfig {
        HttpConfig {
            cert_pem: cert_pem.into(),
            key_pem: key_pem.into(),
            ca_pems: Vec::new(),
            base_url: None,
            auth: AuthMode::ClientCertificate,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            request_timeout: DEFAULT_REQUEST_TIMEOUT,
            accept_minijson: true,
        }
    }

    /// Also trust the CA certificate(s) in `pem` to sign the server's certificate. Only the
    /// CAs given here are trusted (no system or built-in roots); pass a public root (or a
    /// whole bundle) for a server with a publicly-issued certificate.
    pub fn with_ca_pem(mut self, pem: impl Into<String>) -> HttpConfig {
        self.ca_pems.push(pem.into());
        self
    }

    /// Talk to `url` (e.g. `https://127.0.0.1:8443`, or `http://…` behind a proxy in
    /// [`AuthMode::ProxyHeader`]) instead of the environment's default server. A path is kept
    /// as a prefix of the API's paths.
    pub fn with_base_url(mut self, url: impl Into<String>) -> HttpConfig {
        self.base_url = Some(url.into());
        self
    }

    /// How the device authenticates (default [`AuthMode::ClientCertificate`]).
    pub fn with_auth(mut self, auth: AuthMode) -> HttpConfig {
        self.auth = auth;
        self
    }

    /// Time allowed to connect (TCP and TLS); default 10 s.
    pub fn with_connect_timeout(mut self, timeout: Duration) -> HttpConfig {
        self.connect_timeout = timeout;
        self
    }

    /// Time allowed for a whole request, answer included; default 30 s.
    pub fn with_request_timeout(mut self, timeout: Duration) -> HttpConfig {
        self.request_timeout = timeout;
        self
    }

    /// Whether to ask for MiniJSON answers (`Accept: application/minijson`; default yes).
    /// Answers are decoded by their `Content-Type` either way.
    pub fn with_accept_minijson(mut self, accept: bool) -> HttpConfig {
        self.accept_minijson = accept;
        self
    }

    /// The device identity in the certificate.
    pub fn identity(&self) -> Result<DeviceIdentity, HttpError> {
        DeviceIdentity::from_pem(self.cert_pem.as_bytes())
            .map_err(|e| HttpError::Config(format!("the device certificate: {e}")))
    }

    /// The base URL requests go to: the one set, else `https://{host}` of the certificate's
    /// environment (production `api.smok.co`, staging `api.test.smok-serwis.pl`). Local
    /// development has no default server: an error unless a base URL was set.
    pub fn resolved_base_url(&self) -> Result<reqwest::Url, HttpError> {
        let text = match &self.base_url {
            Some(url) => url.clone(),
            None => {
                let identity = self.identity()?;
                let host = identity.default_host().ok_or_else(|| {
                    HttpError::Config(format!("{identity} has no default server: set a base URL"))
                })?;
                format!("https://{host}")
            }
        };
        let url = reqwest::Url::parse(&text)
            .map_err(|e| HttpError::Config(format!("invalid base URL {text:?}: {e}")))?;
        if !matches!(url.scheme(), "https" | "http") || url.cannot_be_a_base() {
            return Err(HttpError::Config(format!(
                "invalid base URL {text:?}: expected https://host[:port][/prefix]"
            )));
        }
        if url.query().is_some() || url.fragment().is_some() {
            return Err(HttpError::Config(format!(
                "invalid base URL {text:?}: no query or fragment allowed"
            )));
        }
        Ok(url)
    }
}
