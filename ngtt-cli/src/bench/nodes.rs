//! The server nodes under test: `ngtt serve` children the bench starts on loopback (one on a
//! SQLite file, or one or more on one PostgreSQL schema, each with a `--node-id` of its own),
//! or one running server given by address.

use std::ffi::OsString;
use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use super::admin::Admin;
use super::server::LocalServer;
use crate::error::CliError;

/// The nodes of one run.
pub struct Nodes {
    /// The bench's own servers, in node order (`None` once killed); empty for a running one.
    local: Vec<Option<LocalServer>>,
    /// NGTT address of each node.
    pub addrs: Vec<SocketAddr>,
    /// Admin API of each node.
    pub admins: Vec<Admin>,
    /// Process id of the running server, when given.
    external_pid: Option<u32>,
}

/// How the bench starts its own nodes.
pub struct Start<'a> {
    /// The `ngtt` executable (default: this one).
    pub exe: Option<&'a Path>,
    /// The PKI directory whose CA the nodes trust.
    pub pki: &'a Path,
    /// A SQLite file or a PostgreSQL URL.
    pub db: OsString,
    /// Nodes (more than one only on PostgreSQL).
    pub nodes: usize,
    /// Each node's `--max-connections`.
    pub max_connections: usize,
    /// The admin API token of every node.
    pub token: String,
    /// On PostgreSQL, the nodes' `--lease-ttl` (default: theirs).
    pub lease_ttl: Option<Duration>,
    /// The nodes' `--ping-answer-delay` in seconds.
    pub ping_answer_delay: u64,
}

impl Nodes {
    /// Starts the nodes, one after the other (each migrates the schema or finds it done).
    pub async fn start(start: Start<'_>) -> Result<Nodes, CliError> {
        let postgres = ngtt_server::PostgresUrl::is_postgres(&start.db.to_string_lossy());
        let mut nodes = Nodes {
            local: Vec::new(),
            addrs: Vec::new(),
            admins: Vec::new(),
            external_pid: None,
        };
        for i in 0..start.nodes.max(1) {
            // Distinct node ids on one schema; new ones in every run.
            let mut extra = Vec::new();
            let delay = start.ping_answer_delay.to_string();
            extra.extend(["--ping-answer-delay".to_owned(), delay]);
            if postgres {
                extra.extend([
                    "--node-id".to_owned(),
                    format!("bench-{}-{i}", std::process::id()),
                ]);
                if let Some(ttl) = start.lease_ttl {
                    extra.extend(["--lease-ttl".to_owned(), ttl.as_secs_f64().to_string()]);
                }
            }
            let server = LocalServer::start(
                start.exe,
                start.pki,
                start.db.clone(),
                start.max_connections,
                start.token.clone(),
                extra,
            )
            .await;
            let server = match server {
                Ok(server) => server,
                Err(e) => {
                    nodes.stop().await;
                    return Err(e);
                }
            };
            nodes.addrs.push(server.listen);
            nodes.admins.push(Admin::new(
                &format!("http://{}", server.admin),
                Some(start.token.clone()),
            )?);
            nodes.local.push(Some(server));
        }
        Ok(nodes)
    }

    /// A running server at `addr` with its admin API, and its process id when known.
    pub fn external(addr: SocketAddr, admin: Admin, pid: Option<u32>) -> Nodes {
        Nodes {
            local: Vec::new(),
            addrs: vec![addr],
            admins: vec![admin],
            external_pid: pid,
        }
    }

    /// Whether the bench started the nodes.
    pub fn is_local(&self) -> bool {
        !self.local.is_empty()
    }

    /// Nodes, killed ones included.
    pub fn count(&self) -> usize {
        self.addrs.len()
    }

    /// Process ids of the nodes alive (that can be read).
    pub fn pids(&self) -> Vec<u32> {
        if self.local.is_empty() {
            return self.external_pid.into_iter().collect();
        }
        self.local.iter().flatten().filter_map(LocalServer::pid).collect()
    }

    /// Node `k`, if the bench started it and it was not killed.
    pub fn local_mut(&mut self, k: usize) -> Option<&mut LocalServer> {
        self.local.get_mut(k).and_then(Option::as_mut)
    }

    /// Kills node `k` with SIGKILL (no shutdown of any kind) and waits for it to be gone; it
    /// stays dead.
    pub async fn kill(&mut self, k: usize) -> Result<(), CliError> {
        match self.local.get_mut(k).and_then(Option::take) {
            Some(mut server) => server.kill9().await,
            None => Err(CliError::Bench(format!("no node {k} of the bench's own to kill"))),
        }
    }

    /// Stops the bench's own nodes (SIGKILL: their database is a temporary file or the given
    /// PostgreSQL schema).
    pub async fn stop(self) {
        for server in self.local.into_iter().flatten() {
            server.stop().await;
        }
    }
}
