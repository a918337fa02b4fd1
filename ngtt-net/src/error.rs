//! [`TlsError`]: why PEM could not be turned into a TLS configuration.

/// Why [`crate::tls`] could not build a configuration. `what` names the input (as the caller
/// calls it: `"device CA"`, `"server key"`...), so that the message says which file to fix.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TlsError {
    /// A PEM input could not be parsed (or holds no private key, for a key).
    #[error("invalid PEM in {what}: {source}")]
    Pem {
        /// Which input.
        what: String,
        /// The parser's complaint.
        source: rustls_pki_types::pem::Error,
    },

    /// A PEM input that must hold certificates holds none.
    #[error("{what} contains no certificate")]
    NoCertificate {
        /// Which input.
        what: String,
    },

    /// rustls refused an input (a CA certificate it cannot use, a key that does not match the
    /// certificate...).
    #[error("{what}: {source}")]
    Rustls {
        /// Which input, or which step.
        what: String,
        /// What rustls said.
        source: rustls::Error,
    },

    /// The CA certificates cannot be used to verify client certificates.
    #[error("{what}: {source}")]
    Verifier {
        /// Which input.
        what: String,
        /// What rustls said.
        source: rustls::server::VerifierBuilderError,
    },
}
