//! [`PathpointIo`] (how the device reads and writes one of its pathpoints), [`Pathpoint`] (a
//! pathpoint to register) and [`PathpointProvider`] (pathpoints made on demand).

use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;
use ngtt_proto::payload::{Advise, PathpointValue, ReadError, Sample};
use smok_http::StorageLevel;

/// The device's side of one pathpoint (or of many: `path` says which): how to read and write
/// it. `async fn` in an implementation is fine; the futures must be `Send`.
///
/// A failure is a [`ReadError`] (`timeout`, `malformed`, `invalid`, `type`): a failed read is
/// uploaded as such (`[false, ts, code]`), a failed write is retried as its advise level says
/// ([`super::Attempts`]).
///
/// ```
/// use smok_client::pathpoint::{Pathpoint, PathpointIo};
/// use smok_client::orders::{Advise, PathpointValue};
/// use smok_client::ReadError;
///
/// struct Thermometer;
///
/// impl PathpointIo for Thermometer {
///     async fn read(&self, _path: &str, _advise: Advise) -> Result<PathpointValue, ReadError> {
///         Ok(PathpointValue::Int(215)) // ask the hardware here
///     }
///     async fn write(&self, _path: &str, _value: PathpointValue, _advise: Advise) -> Result<(), ReadError> {
///         Err(ReadError::Invalid) // read-only
///     }
/// }
///
/// let pp = Pathpoint::new("W1", Thermometer);
/// assert_eq!(pp.name(), "W1");
/// ```
pub trait PathpointIo: Send + Sync + 'static {
    /// Reads `path` now.
    fn read(
        &self,
        path: &str,
        advise: Advise,
    ) -> impl Future<Output = Result<PathpointValue, ReadError>> + Send;

    /// Writes `value` (already coerced to the path's type) to `path`.
    fn write(
        &self,
        path: &str,
        value: PathpointValue,
        advise: Advise,
    ) -> impl Future<Output = Result<(), ReadError>> + Send;
}

impl<T: PathpointIo> PathpointIo for Arc<T> {
    fn read(
        &self,
        path: &str,
        advise: Advise,
    ) -> impl Future<Output = Result<PathpointValue, ReadError>> + Send {
        (**self).read(path, advise)
    }

    fn write(
        &self,
        path: &str,
        value: PathpointValue,
        advise: Advise,
    ) -> impl Future<Output = Result<(), ReadError>> + Send {
        (**self).write(path, value, advise)
    }
}

/// [`PathpointIo`] behind a pointer: what the registry keeps.
pub(crate) trait DynIo: Send + Sync {
    fn read<'a>(&'a self, path: &'a str, advise: Advise) -> BoxFuture<'a, Result<PathpointValue, ReadError>>;
    fn write<'a>(
        &'a self,
        path: &'a str,
        value: PathpointValue,
        advise: Advise,
    ) -> BoxFuture<'a, Result<(), ReadError>>;
}

impl<T: PathpointIo> DynIo for T {
    fn read<'a>(&'a self, path: &'a str, advise: Advise) -> BoxFuture<'a, Result<PathpointValue, ReadError>> {
        Box::pin(PathpointIo::read(self, path, advise))
    }

    fn write<'a>(
        &'a self,
        path: &'a str,
        value: PathpointValue,
        advise: Advise,
    ) -> BoxFuture<'a, Result<(), ReadError>> {
        Box::pin(PathpointIo::write(self, path, value, advise))
    }
}

/// Called with a pathpoint's name and each new sample of it (see [`Pathpoint::on_value`]).
pub type ValueCallback = Arc<dyn Fn(&str, &Sample) + Send + Sync>;

/// A pathpoint to register with the device: its name, its storage level on the server, how to
/// read and write it, and optionally a minimum interval between reads and a callback.
#[derive(Clone)]
pub struct Pathpoint {
    pub(crate) name: String,
    pub(crate) level: StorageLevel,
    pub(crate) io: Arc<dyn DynIo>,
    pub(crate) min_read_interval: Option<Duration>,
    pub(crate) on_value: Option<ValueCallback>,
}

impl fmt::Debug for Pathpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pathpoint")
            .field("name", &self.name)
            .field("level", &self.level)
            .finish_non_exhaustive()
    }
}

impl Pathpoint {
    /// Pathpoint `name` (its first letter is its type), read and written by `io`, kept as a
    /// trend (TREND, the server's default) unless [`Pathpoint::storage_level`] says otherwise.
    pub fn new(name: impl Into<String>, io: impl PathpointIo) -> Self {
        Pathpoint {
            name: name.into(),
            level: StorageLevel::Trend,
            io: Arc::new(io),
            min_read_interval: None,
            on_value: None,
        }
    }

    /// The same pathpoint sharing `io` with others.
    pub fn shared(name: impl Into<String>, io: Arc<impl PathpointIo>) -> Self {
        Pathpoint {
            name: name.into(),
            level: StorageLevel::Trend,
            io,
            min_read_interval: None,
            on_value: None,
        }
    }

    /// Reads no more often than every `interval` (the Python client's `read_no_often_than`): a
    /// read asked for sooner returns the last value without touching the hardware, and
    /// uploads nothing new.
    pub fn min_read_interval(mut self, interval: Duration) -> Self {
        self.min_read_interval = Some(interval);
        self
    }

    /// Calls `callback` with every new sample (read, failed read, or set by the program) once
    /// it is stored (the Python client's `callable_on_change`). It runs on the task that
    /// recorded the sample: keep it short; a panic in it is caught and logged.
    pub fn on_value(mut self, callback: impl Fn(&str, &Sample) + Send + Sync + 'static) -> Self {
        self.on_value = Some(Arc::new(callback));
        self
    }

    /// How long the server keeps its values.
    pub fn storage_level(mut self, level: StorageLevel) -> Self {
        self.level = level;
        self
    }

    /// Its name.
    pub fn name(&self) -> &str {
        &self.name
    }
}

/// Makes pathpoints the device was not told about in advance: named by an order, a sensor or
/// the server's list of the device's pathpoints (as the Python client's
/// `provide_unknown_pathpoint`). `None`: the device has no such pathpoint.
///
/// Closures `Fn(&str) -> Option<Pathpoint>` are providers.
pub trait PathpointProvider: Send + Sync + 'static {
    /// A pathpoint for `path`, or `None`.
    fn provide(&self, path: &str) -> Option<Pathpoint>;
}

impl<F> PathpointProvider for F
where
    F: Fn(&str) -> Option<Pathpoint> + Send + Sync + 'static,
{
    fn provide(&self, path: &str) -> Option<Pathpoint> {
        self(path)
    }
}
