//! Name resolution of the configured servers, injectable: [`Resolve`] turns one [`ServerAddr`]
//! into the socket addresses it stands for now. The default, [`SystemResolver`], asks the
//! system's resolver (`tokio::net::lookup_host`: `/etc/hosts`, DNS); a device that finds its
//! nodes another way (service discovery, a registry, a fixed table in tests) gives its own with
//! [`crate::Config::with_resolver`] — a type implementing [`Resolve`], or a closure.
//!
//! The transport asks at the start of every round (see [`crate::Rotation`]), so a changed answer
//! is followed at the next round; each answer is bounded in time by the configured
//! `connect_timeout` and in size by [`crate::MAX_TARGETS`], whatever the resolver returns.
//!
//! ```
//! use std::net::SocketAddr;
//! use ngtt_transport::{Config, ServerAddr};
//!
//! # fn config(ca: &str, cert: &str, key: &str) -> Result<Config, ngtt_transport::TransportError> {
//! // `nodes.internal` stands for two nodes, whatever DNS says.
//! let config = Config::new("nodes.internal:2405", ca, cert, key)?.with_resolver(
//!     |server: &ServerAddr| {
//!         let port = server.port;
//!         async move {
//!             Ok(vec![
//!                 SocketAddr::from(([10, 0, 0, 1], port)),
//!                 SocketAddr::from(([10, 0, 0, 2], port)),
//!             ])
//!         }
//!     },
//! );
//! # Ok(config)
//! # }
//! ```

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;

use crate::servers::ServerAddr;

/// What [`Resolve::resolve`] returns: the addresses in the order to try them, or why there
/// are none.
pub type Resolution = Pin<Box<dyn Future<Output = io::Result<Vec<SocketAddr>>> + Send>>;

/// Turns a configured server into socket addresses (see the module documentation).
///
/// Implemented for every `Fn(&ServerAddr) -> impl Future<Output = io::Result<Vec<SocketAddr>>>`
/// that is `Send + Sync`.
pub trait Resolve: Send + Sync {
    /// The socket addresses `server` stands for now, in the order to try them. An empty list
    /// or an error makes the server contribute nothing to this round.
    fn resolve(&self, server: &ServerAddr) -> Resolution;
}

impl<F, Fut> Resolve for F
where
    F: Fn(&ServerAddr) -> Fut + Send + Sync,
    Fut: Future<Output = io::Result<Vec<SocketAddr>>> + Send + 'static,
{
    fn resolve(&self, server: &ServerAddr) -> Resolution {
        Box::pin(self(server))
    }
}

/// The default [`Resolve`]: the system's resolver, through `tokio::net::lookup_host` (an IP
/// address is returned as it is, without a lookup).
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemResolver;

impl Resolve for SystemResolver {
    fn resolve(&self, server: &ServerAddr) -> Resolution {
        let (host, port) = (server.host.clone(), server.port);
        Box::pin(async move { Ok(tokio::net::lookup_host((host.as_str(), port)).await?.collect()) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_system_resolver_returns_an_ip_address_as_it_is() {
        let server = ServerAddr::parse("127.0.0.1:7").expect("valid");
        let addrs = SystemResolver.resolve(&server).await.expect("resolved");
        assert_eq!(addrs, [SocketAddr::from(([127, 0, 0, 1], 7))]);
        let v6 = ServerAddr::parse("[::1]:8").expect("valid");
        let addrs = SystemResolver.resolve(&v6).await.expect("resolved");
        assert_eq!(addrs, ["[::1]:8".parse::<SocketAddr>().expect("v6")]);
    }

    #[tokio::test]
    async fn a_closure_is_a_resolver() {
        let resolver = |server: &ServerAddr| {
            let found = server.host == "known";
            let port = server.port;
            async move {
                if found {
                    Ok(vec![SocketAddr::from(([127, 0, 0, 2], port))])
                } else {
                    Err(io::Error::new(io::ErrorKind::NotFound, "unknown name"))
                }
            }
        };
        let known = ServerAddr::parse("known:9").expect("valid");
        assert_eq!(
            resolver.resolve(&known).await.expect("resolved"),
            [SocketAddr::from(([127, 0, 0, 2], 9))]
        );
        let unknown = ServerAddr::parse("other:9").expect("valid");
        assert!(resolver.resolve(&unknown).await.is_err());
    }
}
