//! [`TableResolver`]: a name resolver for tests, a table of names and the socket addresses each
//! stands for, changeable while a device runs, counting the lookups. Tests may bind only
//! `127.0.0.1:0`, and the machine's `localhost` resolves to one address; this makes one name
//! stand for several real servers (each on its own port), as a DNS name with several records
//! would in production.

use std::collections::HashMap;
use std::io;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};

use ngtt_transport::{Resolution, Resolve, ServerAddr};

#[derive(Default)]
struct Table {
    names: HashMap<String, Vec<SocketAddr>>,
    lookups: HashMap<String, usize>,
}

/// A shared table of names; clones see the same table (one goes into the device's
/// configuration, the test keeps another to change it).
#[derive(Clone, Default)]
pub struct TableResolver {
    table: Arc<Mutex<Table>>,
}

impl TableResolver {
    /// An empty table: every name fails to resolve until [`TableResolver::set`].
    pub fn new() -> Self {
        TableResolver::default()
    }

    /// From now on `name` resolves to `addrs` (their own ports: the configured port is
    /// ignored), in this order.
    pub fn set(&self, name: &str, addrs: impl IntoIterator<Item = SocketAddr>) {
        let mut table = self.lock();
        table.names.insert(name.to_owned(), addrs.into_iter().collect());
    }

    /// How many times `name` was looked up so far.
    pub fn lookups(&self, name: &str) -> usize {
        self.lock().lookups.get(name).copied().unwrap_or(0)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Table> {
        self.table.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Resolve for TableResolver {
    fn resolve(&self, server: &ServerAddr) -> Resolution {
        let mut table = self.lock();
        *table.lookups.entry(server.host.clone()).or_default() += 1;
        let answer = table.names.get(&server.host).cloned().ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::NotFound,
                format!("{} is not in the test's table", server.host),
            )
        });
        Box::pin(std::future::ready(answer))
    }
}
