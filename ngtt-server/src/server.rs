//! [`Server`]: binds the listeners, accepts device connections, serves the admin API and the
//! device HTTP API, and shuts down gracefully.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use tokio::net::TcpListener;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tracing::{error, info, warn};

use crate::accept::takeover::TakeoverLimiter;
use crate::accept::{self, HandshakeSlots, HandshakeTicket};
use crate::admin::{self, AdminState};
use crate::cluster::Cluster;
use crate::config::ServerConfig;
use crate::connection::{self, Limits, Shared};
use crate::device_api::{self, DeviceApiState, HttpListener};
use crate::error::ServerError;
use crate::registry::Registry;
use crate::storage::{Db, PostgresStorage, SqliteStorage, Storage, StorageError, Store};
use crate::tls;

/// A bound NGTT server, ready to [`run`](Server::run).
pub struct Server {
    config: ServerConfig,
    listeners: Vec<TcpListener>,
    local_addrs: Vec<SocketAddr>,
    admin: Option<(TcpListener, SocketAddr)>,
    admin_token: Option<crate::admin::auth::ResolvedToken>,
    http: Option<(HttpListener, SocketAddr)>,
    shared: Arc<Shared>,
    handle: ServerHandle,
}

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server")
            .field("local_addrs", &self.local_addrs)
            .field("admin_addr", &self.admin_addr())
            .field("http_addr", &self.http_addr())
            .finish_non_exhaustive()
    }
}

/// Controls a server from elsewhere: stop it, see who is connected, reach its storage.
#[derive(Clone)]
pub struct ServerHandle {
    shutdown: CancellationToken,
    registry: Registry,
    storage: Arc<dyn Storage>,
    store: Store,
}

impl std::fmt::Debug for ServerHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerHandle")
            .field("shut_down", &self.shutdown.is_cancelled())
            .finish_non_exhaustive()
    }
}

impl ServerHandle {
    /// Starts a graceful shutdown: stop accepting, close every connection with TLS
    /// close_notify after the storage writes in progress, stop the admin API.
    pub fn shutdown(&self) {
        self.shutdown.cancel();
    }

    /// Whether [`shutdown`](ServerHandle::shutdown) was called (or the server's shutdown
    /// signal fired).
    pub fn is_shutting_down(&self) -> bool {
        self.shutdown.is_cancelled()
    }

    /// The ids of the devices connected now, sorted.
    pub fn connected_devices(&self) -> Vec<String> {
        self.registry.connected()
    }

    /// The server's storage engine (calls on it are synchronous, one transaction each).
    pub fn storage(&self) -> Arc<dyn Storage> {
        Arc::clone(&self.storage)
    }

    /// The server's async storage interface, with the same group-commit writer the
    /// connections use.
    pub fn store(&self) -> Store {
        self.store.clone()
    }

    /// Queues an order for `device_id` (`sections`: the ORDER payload, one MiniJSON list of
    /// sections) and wakes the device's connection, as the admin API does: an embedding
    /// program's way to issue orders. Writing to [`storage`](ServerHandle::storage) directly
    /// queues too, but a connected device only sees such an order on its next answer or
    /// connection.
    pub async fn queue_order(
        &self,
        device_id: &str,
        sections: Vec<u8>,
    ) -> Result<crate::storage::OrderId, ServerError> {
        let id = crate::order_handoff::queue_order(&self.store, &self.registry, device_id, sections.into())
            .await?;
        Ok(id)
    }
}

/// The next connection accepted by any of `listeners` (cancel safe, as `accept` is).
async fn accept_any(listeners: &[TcpListener]) -> std::io::Result<(tokio::net::TcpStream, SocketAddr)> {
    let accepts = listeners.iter().map(|l| Box::pin(l.accept()));
    futures::future::select_all(accepts).await.0
}

async fn bind(
    addr: SocketAddr,
    what: &'static str,
    backlog: u32,
) -> Result<(TcpListener, SocketAddr), ServerError> {
    let bind_err = |source| ServerError::Bind { what, addr, source };
    let listener = accept::listen(addr, backlog).map_err(bind_err)?;
    let local = listener.local_addr().map_err(bind_err)?;
    Ok((listener, local))
}

impl Server {
    /// Opens the database of `config` (PostgreSQL when [`ServerConfig::postgres`] is set,
    /// else the SQLite file), loads the TLS material and binds the listeners (NGTT, and the
    /// admin and device HTTP APIs when enabled). Port 0 binds a free port: see
    /// [`local_addr`](Server::local_addr).
    pub async fn bind(config: ServerConfig) -> Result<Server, ServerError> {
        config.validate()?;
        let path = config.db_path.clone();
        let postgres = config.postgres.clone();
        let storage = tokio::task::spawn_blocking(move || -> Result<Arc<dyn Storage>, StorageError> {
            Ok(match postgres {
                Some(url) => Arc::new(PostgresStorage::connect(&url)?),
                None => Arc::new(SqliteStorage::open(path)?),
            })
        })
        .await
        .map_err(|e| ServerError::Io(std::io::Error::other(e)))??;
        Server::bind_with_storage(config, storage).await
    }

    /// Like [`bind`](Server::bind), with another storage engine (`config.db_path` unused).
    /// With [`ServerConfig::postgres`] set, the node coordinates with the others on that
    /// database ([`ServerConfig::cluster`]), whatever `storage` is.
    pub async fn bind_with_storage(
        config: ServerConfig,
        storage: Arc<dyn Storage>,
    ) -> Result<Server, ServerError> {
        config.validate()?;
        let mut config = config;
        clamp_to_open_files(&mut config);
        let tickets = match config.tls_resumption {
            true => {
                let file = config.tls_ticket_path();
                let (ca, cert) = (&config.tls.device_ca, &config.tls.server_cert);
                if file.is_none() {
                    info!("TLS ticket keys kept in memory (no admin token file on PostgreSQL): give --tls-ticket-file to keep them across restarts");
                }
                let keys = crate::tls_tickets::TicketKeys::load(
                    file.as_deref(),
                    ca,
                    cert,
                    crate::tls_tickets::now_secs(),
                )?;
                Some(Arc::new(keys))
            }
            false => None,
        };
        let acceptor = tls::acceptor(&config.tls, config.tls_max_record, tickets)?;
        let mut listeners = Vec::new();
        let mut local_addrs = Vec::new();
        for addr in std::iter::once(config.listen).chain(config.extra_listen.iter().copied()) {
            let (listener, local) = bind(addr, "NGTT", config.listen_backlog).await?;
            listeners.push(listener);
            local_addrs.push(local);
        }
        let (admin, admin_token) = match config.admin_listen {
            Some(addr) => {
                let path = config.admin_token_path();
                let token = crate::admin::auth::resolve_token(config.admin_token.as_deref(), &path)?;
                if token.generated {
                    warn!(file = %path.display(), "generated a new admin API token (mode 0600); clients read it from this file");
                }
                (
                    Some(bind(addr, "admin", config.listen_backlog).await?),
                    Some(token),
                )
            }
            None => (None, None),
        };
        let http = match config.http_listen {
            Some(addr) => {
                let tls = if config.http_plain {
                    None
                } else {
                    Some(tls::http_acceptor(&config.tls, config.trust_proxy_header)?)
                };
                let header_verifier = if config.trust_proxy_header {
                    Some(tls::client_verifier(&config.tls, false)?)
                } else {
                    None
                };
                let (listener, local) = bind(addr, "device HTTP", config.listen_backlog).await?;
                let listener = HttpListener {
                    listener,
                    tls,
                    header_verifier,
                    handshake_timeout: config.handshake_timeout,
                    max_connections: config.http_max_connections,
                    slots: Arc::new(std::sync::Mutex::new(HandshakeSlots::new(
                        config.max_handshakes_per_source,
                    ))),
                    pace: device_api::BodyPace {
                        grace: config.http_body_timeout,
                        min_rate: config.http_body_min_rate,
                    },
                };
                Some((listener, local))
            }
            None => None,
        };
        let store = Db::with_limits(Arc::clone(&storage), &config.storage);
        let shutdown = CancellationToken::new();
        let registry = Registry::default();
        let cluster = match &config.postgres {
            Some(database) => {
                let cluster =
                    Cluster::start(database, config.cluster.clone(), registry.clone(), &shutdown).await?;
                info!(
                    node = cluster.node_id(),
                    "joined the nodes on the cluster database"
                );
                Some(cluster)
            }
            None => None,
        };
        let shared = Arc::new(Shared {
            db: store.clone(),
            registry: registry.clone(),
            acceptor,
            shutdown: shutdown.clone(),
            limits: Limits {
                max_inflight: config.max_inflight_orders,
                max_frame_len: config.max_frame_len,
                idle_timeout: config.idle_timeout,
                write_timeout: config.write_timeout,
                handshake_timeout: config.handshake_timeout,
                close_timeout: config.close_timeout,
                fetch_grace: config.fetch_grace,
                ping_answer_delay: config.effective_ping_answer_delay(),
                budgets: config.budgets,
            },
            takeovers: std::sync::Mutex::new(TakeoverLimiter::new(
                config.takeovers_per_minute,
                config.takeover_spacing,
                config.takeover_spacing * 6,
            )),
            cluster,
        });
        Ok(Server {
            handle: ServerHandle {
                shutdown,
                registry,
                storage,
                store,
            },
            config,
            listeners,
            local_addrs,
            admin,
            admin_token,
            http,
            shared,
        })
    }

    /// The address the NGTT listener of [`ServerConfig::listen`] is bound to (with the real
    /// port when 0 was asked for).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addrs[0]
    }

    /// The addresses of every NGTT listener: [`ServerConfig::listen`]'s first, then those of
    /// [`ServerConfig::extra_listen`], in order.
    pub fn local_addrs(&self) -> &[SocketAddr] {
        &self.local_addrs
    }

    /// The address the admin API is bound to, if it is enabled.
    pub fn admin_addr(&self) -> Option<SocketAddr> {
        self.admin.as_ref().map(|(_, addr)| *addr)
    }

    /// The bearer token of the admin API, if it is enabled: [`ServerConfig::admin_token`], or
    /// the one read from (or generated into) the token file.
    pub fn admin_token(&self) -> Option<&str> {
        self.admin_token.as_ref().map(|t| t.token.as_str())
    }

    /// The token file, when this start created it (first start): the caller may show the token
    /// once.
    pub fn admin_token_generated(&self) -> Option<&std::path::Path> {
        self.admin_token
            .as_ref()
            .filter(|t| t.generated)
            .and_then(|t| t.file.as_deref())
    }

    /// The address the device HTTP API is bound to, if it is enabled.
    pub fn http_addr(&self) -> Option<SocketAddr> {
        self.http.as_ref().map(|(_, addr)| *addr)
    }

    /// A handle to stop the server and look inside it.
    pub fn handle(&self) -> ServerHandle {
        self.handle.clone()
    }

    /// Serves until [`ServerHandle::shutdown`] is called, then shuts down gracefully.
    pub async fn run(self) -> Result<(), ServerError> {
        self.run_until(std::future::pending()).await
    }

    /// Serves until `signal` completes (or [`ServerHandle::shutdown`] is called), then shuts
    /// down gracefully: stops accepting, lets each connection finish its storage write in
    /// progress and close with TLS close_notify, stops the admin and device HTTP APIs after the requests in
    /// progress, and aborts what is still running after `shutdown_grace`.
    ///
    /// Dropping the future instead (e.g. aborting its task) stops everything at once, as a
    /// crash would; nothing acknowledged is lost either way.
    pub async fn run_until(self, signal: impl Future<Output = ()>) -> Result<(), ServerError> {
        let Server {
            config,
            listeners,
            local_addrs,
            admin,
            admin_token,
            http,
            shared,
            handle,
        } = self;
        let shutdown = handle.shutdown.clone();
        let mut tasks = JoinSet::new();
        if let (Some((admin_listener, admin_addr)), Some(token)) = (admin, admin_token) {
            let state = Arc::new(AdminState {
                db: shared.db.clone(),
                registry: shared.registry.clone(),
                token: token.token,
                hosts: config.admin_hosts.clone(),
                allow_origins: config.admin_allow_origins.clone(),
                max_order_len: config.max_frame_len,
                max_baob_len: config.max_baob_len,
                budgets: config.budgets,
            });
            let tls = match config.admin_tls {
                true => Some((tls::admin_acceptor(&config.tls)?, config.handshake_timeout)),
                false => None,
            };
            let scheme = if tls.is_some() { "https" } else { "http" };
            info!(%admin_addr, scheme, "admin API listening");
            tasks.spawn(admin::serve(admin_listener, state, tls, shutdown.clone()));
        }
        if let Some((mut http_listener, http_addr)) = http {
            let state = Arc::new(DeviceApiState {
                db: shared.db.clone(),
                registry: shared.registry.clone(),
                header_verifier: http_listener.header_verifier.take(),
                max_baob_len: config.max_baob_len,
                budgets: config.budgets,
            });
            let scheme = if http_listener.tls.is_some() {
                "https"
            } else {
                "http"
            };
            info!(%http_addr, scheme, trust_proxy_header = config.trust_proxy_header, "device HTTP API listening");
            warn_proxy_header(&config, http_addr);
            let router = device_api::router(state);
            tasks.spawn(device_api::serve(http_listener, router, shutdown.clone()));
        }
        info!(budgets = %config.budgets.summary(), "budgets");
        for local_addr in &local_addrs {
            info!(%local_addr, tls_max_record = config.tls_max_record, "NGTT listening");
        }
        tokio::pin!(signal);
        let mut conn_no: u64 = 0;
        // The admin and device HTTP APIs run in the same set; they do not count as connections.
        let services = tasks.len();
        let max_connections = config.max_connections;
        let slots: accept::SharedSlots = Arc::new(std::sync::Mutex::new(HandshakeSlots::new(
            config.max_handshakes_per_source,
        )));
        // Warn once per burst of refusals, not once per refused socket.
        let mut refusing = false;
        let mut trim = crate::memory::TrimPolicy::new(std::time::Instant::now());
        // Connections started plus connections ended: what a trim may give back.
        let mut churn: u64 = 0;
        let mut trim_tick = tokio::time::interval(crate::memory::CHECK_EVERY);
        trim_tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = trim_tick.tick() => {
                    let live = tasks.len().saturating_sub(services);
                    let now = std::time::Instant::now();
                    shared.registry.forget_expired(now);
                    if trim.check(live, churn, now) {
                        tokio::spawn(crate::memory::give_back(shared.db.clone()));
                    }
                }
                () = &mut signal => break,
                () = shutdown.cancelled() => break,
                accepted = accept_any(&listeners) => match accepted {
                    Ok((tcp, peer)) => {
                        conn_no += 1;
                        if tasks.len() - services >= max_connections && !accept::evict_oldest(&slots) {
                            // Every slot holds an identified device: refused before any TLS
                            // work, dropping the socket closes it.
                            if !refusing {
                                warn!(%peer, limit = max_connections, "connection limit reached: closing new connections until a slot is free");
                            }
                            refusing = true;
                            drop(tcp);
                            continue;
                        }
                        refusing = false;
                        let (ticket, displaced) = HandshakeTicket::take(&slots, conn_no, peer);
                        if displaced {
                            tracing::debug!(%peer, "handshake limit of the source reached: its oldest handshake gives up its slot");
                        }
                        churn += 1;
                        tasks.spawn(connection::handle(Arc::clone(&shared), tcp, peer, conn_no, ticket));
                    }
                    Err(e) => {
                        // Per-connection failures (reset before accept) and resource limits
                        // (EMFILE): keep serving, briefly back off.
                        warn!("accepting a connection failed: {e}");
                        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                    }
                },
                Some(done) = tasks.join_next(), if !tasks.is_empty() => {
                    churn += 1;
                    if let Err(e) = done {
                        if e.is_panic() {
                            error!("a connection task panicked: {e}");
                        }
                    }
                }
            }
        }
        info!("shutting down");
        shutdown.cancel();
        shared.registry.stop_all();
        drop(listeners);
        let drain = async { while tasks.join_next().await.is_some() {} };
        if tokio::time::timeout(config.shutdown_grace, drain).await.is_err() {
            warn!(
                remaining = tasks.len(),
                "connections did not finish in time; aborting them"
            );
            tasks.abort_all();
            while tasks.join_next().await.is_some() {}
        }
        if let Some(cluster) = &shared.cluster {
            cluster.leave().await;
        }
        info!("server stopped");
        Ok(())
    }
}

/// Raises the open-file limit and lowers the connection limits that do not fit it, with one
/// warning.
fn clamp_to_open_files(config: &mut ServerConfig) {
    let Some(open_files) = accept::fd_budget::raise_open_file_limit() else {
        return;
    };
    let http = if config.http_listen.is_some() {
        config.http_max_connections
    } else {
        0
    };
    let budget = accept::fd_budget::fd_budget(open_files, config.fd_reserve, config.max_connections, http);
    if budget.ngtt < config.max_connections || budget.http < http {
        warn!(
            open_files,
            reserve = config.fd_reserve,
            max_connections = budget.ngtt,
            http_max_connections = budget.http,
            "--max-connections {} and --http-max-connections {} do not fit the open-file limit \
             {open_files} minus the reserve of {}: lowered (raise the hard limit, e.g. \
             LimitNOFILE= or `ulimit -Hn`, to serve more)",
            config.max_connections,
            http,
            config.fd_reserve,
        );
        config.max_connections = budget.ngtt;
        if http > 0 {
            config.http_max_connections = budget.http;
        }
    }
}

/// Warns at start that the device HTTP API trusts the proxy header, louder when the listener
/// is reachable from other hosts.
fn warn_proxy_header(config: &ServerConfig, http_addr: SocketAddr) {
    if !config.trust_proxy_header {
        return;
    }
    if http_addr.ip().is_loopback() {
        warn!(%http_addr, "the device HTTP API trusts the X-SSL-Client-Certificate header: anyone who can connect to it from this host can claim any device whose certificate they hold");
    } else {
        warn!(%http_addr, "the device HTTP API trusts the X-SSL-Client-Certificate header on a non-loopback address: anyone who can reach it directly, bypassing the proxy, can claim any device whose certificate they hold; bind it to loopback or firewall it to the proxy");
    }
}
