//! Pathpoints (NGTT.md §7): the device's named, typed variables, read and written by orders,
//! by sensors and by the program, their values uploaded by the device.
//!
//! * [`PathpointIo`] — how the device reads and writes a pathpoint (async callbacks);
//!   [`Pathpoint`] — one to register; [`PathpointProvider`] — pathpoints made on demand.
//! * [`Registry`] — all of them, with their storage levels and last values.
//! * [`Attempts`] — how often reads and writes are tried, by advise level.
//! * [`normalize_read`] — what a read value must be to be stored for its path's type.

mod attempts;
mod io;
mod registry;
mod value;

pub use attempts::Attempts;
pub use io::{Pathpoint, PathpointIo, PathpointProvider, ValueCallback};
pub use registry::{PathError, PathpointInfo, Registry, MAX_PATHPOINTS, MAX_PATH_LEN};
pub use value::normalize_read;

pub(crate) use registry::Resolved;
