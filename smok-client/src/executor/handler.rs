//! [`OrderHandler`] (what the application does for each kind of order) and [`HandlerError`]
//! (why it could not).

use std::error::Error as StdError;
use std::fmt;
use std::future::Future;
use std::sync::Arc;

use crate::error::ClientError;
use crate::orders::{
    MessageOrder, PathpointValue, ReadOrder, SysctlOrder, WaitOrder, WaitOrderExt, WriteOrder,
};

/// What a handler method returns.
pub type HandlerResult = Result<(), HandlerError>;

/// The application's side of order execution: one method per kind of order.
///
/// Methods return futures (`async fn` in an implementation is fine) that must be `Send`, so
/// that an executor can run on any tokio task. The executor calls them in the order NGTT.md §5
/// prescribes (see [`crate::executor`]); a method only runs for a recognised order, and
/// [`OrderHandler::write`] only for a write that is not stale, with its value already coerced
/// to the path's type.
///
/// ```
/// use smok_client::executor::{HandlerResult, OrderHandler};
/// use smok_client::orders::{PathpointValue, ReadOrder, WriteOrder};
///
/// struct Boiler;
///
/// impl OrderHandler for Boiler {
///     async fn read(&self, order: &ReadOrder) -> HandlerResult {
///         println!("reading {}", order.path);
///         Ok(())
///     }
///     async fn write(&self, order: &WriteOrder, value: PathpointValue) -> HandlerResult {
///         println!("writing {value:?} to {}", order.path);
///         Ok(())
///     }
/// }
/// ```
pub trait OrderHandler: Send + Sync {
    /// Reads the pathpoint `order.path` now (the value reaches the server as pathpoint data).
    fn read(&self, order: &ReadOrder) -> impl Future<Output = HandlerResult> + Send;

    /// Writes `value` (already coerced to the type of `order.path`) to the pathpoint.
    fn write(&self, order: &WriteOrder, value: PathpointValue) -> impl Future<Output = HandlerResult> + Send;

    /// Waits `order.time` seconds. The default sleeps on tokio's clock ([`default_wait`]).
    fn wait(&self, order: &WaitOrder) -> impl Future<Output = HandlerResult> + Send {
        default_wait(order)
    }

    /// Performs a system operation (`reboot`, `update`, `baob-updated`...). The default fails
    /// with [`HandlerError::unsupported`].
    fn sysctl(&self, order: &SysctlOrder) -> impl Future<Output = HandlerResult> + Send {
        let error = HandlerError::unsupported(format!("sysctl {:?}", order.op_type));
        async move { Err(error) }
    }

    /// Handles a message order (its `uuid` is reported back to the server). The default fails
    /// with [`HandlerError::unsupported`].
    fn message(&self, order: &MessageOrder) -> impl Future<Output = HandlerResult> + Send {
        let error = HandlerError::unsupported(format!("message {}", order.uuid));
        async move { Err(error) }
    }
}

/// The default [`OrderHandler::wait`]: `tokio::time::sleep` for the order's time; fails at once
/// when the time is negative, not a number or too large.
pub fn default_wait(order: &WaitOrder) -> impl Future<Output = HandlerResult> + Send + 'static {
    let duration = order.duration();
    async move {
        tokio::time::sleep(duration?).await;
        Ok(())
    }
}

macro_rules! forward_handler {
    ($($ty:ty),*) => {$(
        impl<H: OrderHandler> OrderHandler for $ty {
            fn read(&self, order: &ReadOrder) -> impl Future<Output = HandlerResult> + Send {
                (**self).read(order)
            }
            fn write(&self, order: &WriteOrder, value: PathpointValue) -> impl Future<Output = HandlerResult> + Send {
                (**self).write(order, value)
            }
            fn wait(&self, order: &WaitOrder) -> impl Future<Output = HandlerResult> + Send {
                (**self).wait(order)
            }
            fn sysctl(&self, order: &SysctlOrder) -> impl Future<Output = HandlerResult> + Send {
                (**self).sysctl(order)
            }
            fn message(&self, order: &MessageOrder) -> impl Future<Output = HandlerResult> + Send {
                (**self).message(order)
            }
        }
    )*};
}

forward_handler!(&H, Arc<H>, Box<H>);

/// Why a handler could not execute an order. It is reported (in the
/// [`crate::executor::ExecutionReport`] and as a warning) and the executor goes on with the next
/// order.
#[derive(Debug, Clone)]
pub struct HandlerError {
    message: String,
    unsupported: bool,
    source: Option<Arc<dyn StdError + Send + Sync>>,
}

impl HandlerError {
    /// An error with `message`.
    pub fn new(message: impl Into<String>) -> Self {
        HandlerError {
            message: message.into(),
            unsupported: false,
            source: None,
        }
    }

    /// The handler does not support `what` (e.g. `sysctl "update"` on a device that cannot
    /// update itself).
    pub fn unsupported(what: impl fmt::Display) -> Self {
        HandlerError {
            message: format!("{what} is not supported by this device"),
            unsupported: true,
            source: None,
        }
    }

    /// An error with `message`, caused by `source`.
    pub fn with_source(message: impl Into<String>, source: impl StdError + Send + Sync + 'static) -> Self {
        HandlerError {
            message: message.into(),
            unsupported: false,
            source: Some(Arc::new(source)),
        }
    }

    /// True when made by [`HandlerError::unsupported`].
    pub fn is_unsupported(&self) -> bool {
        self.unsupported
    }

    /// The message, without the source.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for HandlerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.source {
            Some(source) => write!(f, "{}: {source}", self.message),
            None => f.write_str(&self.message),
        }
    }
}

impl StdError for HandlerError {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        self.source.as_deref().map(|e| e as &(dyn StdError + 'static))
    }
}

impl From<String> for HandlerError {
    fn from(message: String) -> Self {
        HandlerError::new(message)
    }
}

impl From<&str> for HandlerError {
    fn from(message: &str) -> Self {
        HandlerError::new(message)
    }
}

impl From<ClientError> for HandlerError {
    fn from(e: ClientError) -> Self {
        HandlerError::with_source("smok client error", e)
    }
}

impl From<std::io::Error> for HandlerError {
    fn from(e: std::io::Error) -> Self {
        HandlerError::with_source("i/o error", e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_and_source() {
        let e = HandlerError::with_source("bus fault", std::io::Error::other("timeout"));
        assert_eq!(e.to_string(), "bus fault: timeout");
        assert!(e.source().is_some() && !e.is_unsupported());
        let u = HandlerError::unsupported("sysctl \"update\"");
        assert!(u.is_unsupported());
        assert_eq!(u.message(), "sysctl \"update\" is not supported by this device");
    }

    #[tokio::test(start_paused = true)]
    async fn default_wait_sleeps_on_tokio_time() {
        let start = tokio::time::Instant::now();
        default_wait(&WaitOrder { time: 2.5 }).await.unwrap();
        assert_eq!(start.elapsed(), std::time::Duration::from_millis(2500));
        assert!(default_wait(&WaitOrder { time: -1.0 }).await.is_err());
    }
}
