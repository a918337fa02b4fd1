//! [`HttpError`]: what went wrong, classified by what the caller should do about it.

/// Everything the client can report.
///
/// The classes follow HTTP-API.md's retry rules:
///
/// | class | variants | what to do |
/// |---|---|---|
/// | no link ([`is_no_link`](HttpError::is_no_link)) | [`NoLink`](HttpError::NoLink) | retry later, with backoff |
/// | the client's fault ([`is_clients_fault`](HttpError::is_clients_fault)) | [`Refused`](HttpError::Refused) (4xx) | never send the same request again |
/// | the server's fault ([`is_server_fault`](HttpError::is_server_fault)) | [`ServerFault`](HttpError::ServerFault) (5xx, other non-2xx) | retry later, with backoff |
/// | neither | [`Config`](HttpError::Config), [`Tls`](HttpError::Tls), [`Encode`](HttpError::Encode), [`Decode`](HttpError::Decode) | fix the program or the configuration |
///
/// [`is_retryable`](HttpError::is_retryable) is true exactly for no link and server faults.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum HttpError {
    /// The client could not be built: no CA, no base URL for the environment, a bad base URL.
    #[error("configuration: {0}")]
    Config(String),

    /// The certificates or key cannot be made into a TLS configuration (bad PEM, a key that
    /// does not match the certificate...).
    #[error("TLS configuration: {0}")]
    Tls(#[from] ngtt_net::TlsError),

    /// No answer: the connection could not be made (refused, unreachable, DNS, TLS handshake),
    /// it broke, or the connect or request timeout passed. The server may or may not have
    /// acted on the request.
    #[error("no link to the server: {source}")]
    NoLink {
        /// reqwest's error.
        #[source]
        source: reqwest::Error,
    },

    /// The server refused the request as the client's fault (4xx): sending it again will not
    /// help, and must not be done.
    #[error("the server refused the request ({status}): {reason}")]
    Refused {
        /// The HTTP status code, 400..=499.
        status: u16,
        /// The `status` field of the error answer, or a description of the answer.
        reason: String,
    },

    /// The server failed (5xx), or answered with a status this client does not expect (1xx,
    /// 3xx): try again later.
    #[error("the server failed ({status}): {reason}")]
    ServerFault {
        /// The HTTP status code.
        status: u16,
        /// The `status` field of the error answer, or a description of the answer.
        reason: String,
    },

    /// A request body could not be encoded as MiniJSON.
    #[error("cannot encode the request: {0}")]
    Encode(String),

    /// A 2xx answer could not be decoded into the expected type.
    #[error("cannot decode the answer: {0}")]
    Decode(String),
}

impl HttpError {
    /// No answer came (connect error, broken connection, timeout): retry later.
    pub fn is_no_link(&self) -> bool {
        matches!(self, HttpError::NoLink { .. })
    }

    /// The server answered 4xx: the request is wrong and must not be sent again.
    pub fn is_clients_fault(&self) -> bool {
        matches!(self, HttpError::Refused { .. })
    }

    /// The server answered 5xx (or an unexpected non-2xx, non-4xx status): retry later.
    pub fn is_server_fault(&self) -> bool {
        matches!(self, HttpError::ServerFault { .. })
    }

    /// Whether sending the same request again later may succeed: no link, or a server fault.
    pub fn is_retryable(&self) -> bool {
        self.is_no_link() || self.is_server_fault()
    }

    /// The HTTP status of an answer that was not 2xx, if that is what happened.
    pub fn status(&self) -> Option<u16> {
        match self {
            HttpError::Refused { status, .. } | HttpError::ServerFault { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// The server's reason (`{"status": reason}`) of a refused or failed request.
    pub fn reason(&self) -> Option<&str> {
        match self {
            HttpError::Refused { reason, .. } | HttpError::ServerFault { reason, .. } => Some(reason),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::HttpError;

    #[test]
    fn classes() {
        let refused = HttpError::Refused {
            status: 400,
            reason: "bad".into(),
        };
        assert!(refused.is_clients_fault() && !refused.is_retryable() && !refused.is_server_fault());
        assert_eq!((refused.status(), refused.reason()), (Some(400), Some("bad")));
        let failed = HttpError::ServerFault {
            status: 503,
            reason: "later".into(),
        };
        assert!(failed.is_server_fault() && failed.is_retryable() && !failed.is_clients_fault());
        let decode = HttpError::Decode("x".into());
        assert!(!decode.is_retryable() && decode.status().is_none() && decode.reason().is_none());
        assert!(!HttpError::Config("x".into()).is_no_link());
    }
}
