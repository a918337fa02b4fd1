//! Servers that misbehave on purpose, for the error paths a real `ngtt-server` never takes:
//!
//! * [`ScriptedHttp`]: a plain-HTTP device API that answers each request with the next status
//!   of a script (then `200 {}`), counting requests per path. Devices reach it in proxy-header
//!   mode (`AuthMode::ProxyHeader` over `http://`).
//! * [`RejectingNgtt`]: an NGTT server over real TLS that answers every DATA_STREAM with
//!   DATA_STREAM_REJECT and every PING with a PING, counting the DATA_STREAMs it received.

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Router;
use futures::{SinkExt, StreamExt};
use ngtt_proto::{Frame, FrameType, NgttCodec};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_rustls::TlsAcceptor;
use tokio_util::codec::Framed;

use crate::{server_tls, TestPki};

#[derive(Default)]
struct Script {
    statuses: Mutex<VecDeque<u16>>,
    seen: Mutex<HashMap<String, u64>>,
}

/// A device HTTP API answering from a script. Stops when dropped.
pub struct ScriptedHttp {
    /// Where it listens (plain HTTP).
    pub addr: SocketAddr,
    script: Arc<Script>,
    task: JoinHandle<()>,
}

impl ScriptedHttp {
    /// Answers the first requests with `statuses` (error bodies `{"status": "scripted"}`), every
    /// later one with `200 {}`.
    pub async fn start(statuses: &[u16]) -> ScriptedHttp {
        let script = Arc::new(Script {
            statuses: Mutex::new(statuses.iter().copied().collect()),
            ..Script::default()
        });
        let app = Router::new().fallback(answer).with_state(Arc::clone(&script));
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("address");
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        ScriptedHttp { addr, script, task }
    }

    /// The base URL devices use.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Requests received for `path` so far.
    pub fn requests(&self, path: &str) -> u64 {
        let seen = self.script.seen.lock().expect("lock");
        seen.get(path).copied().unwrap_or(0)
    }
}

impl Drop for ScriptedHttp {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn answer(State(script): State<Arc<Script>>, request: Request) -> Response {
    let path = request.uri().path().to_owned();
    *script.seen.lock().expect("lock").entry(path).or_default() += 1;
    let next = script.statuses.lock().expect("lock").pop_front();
    let status = next
        .and_then(|s| StatusCode::from_u16(s).ok())
        .unwrap_or(StatusCode::OK);
    let body = if status.is_success() {
        serde_json::json!({})
    } else {
        serde_json::json!({"status": "scripted"})
    };
    (status, axum::Json(body)).into_response()
}

/// An NGTT server that refuses every upload. Stops when dropped.
pub struct RejectingNgtt {
    /// Where devices connect.
    pub addr: SocketAddr,
    uploads: Arc<AtomicU64>,
    connections: Arc<AtomicU64>,
    task: JoinHandle<()>,
}

impl RejectingNgtt {
    /// A server with `pki`'s server certificate, trusting `pki`'s devices.
    pub async fn start(pki: &TestPki) -> RejectingNgtt {
        let acceptor = TlsAcceptor::from(server_tls(&pki.server, pki.ca_pem()));
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("address");
        let uploads = Arc::new(AtomicU64::new(0));
        let connections = Arc::new(AtomicU64::new(0));
        let (u, c) = (Arc::clone(&uploads), Arc::clone(&connections));
        let task = tokio::spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                let (acceptor, u, c) = (acceptor.clone(), Arc::clone(&u), Arc::clone(&c));
                tokio::spawn(async move {
                    let Ok(tls) = acceptor.accept(tcp).await else {
                        return;
                    };
                    c.fetch_add(1, Ordering::SeqCst);
                    let mut framed = Framed::new(tls, NgttCodec::new());
                    while let Some(Ok(frame)) = framed.next().await {
                        let reply = match frame.kind {
                            FrameType::Ping => Frame::ping(frame.tid),
                            FrameType::DataStream => {
                                u.fetch_add(1, Ordering::SeqCst);
                                Frame::data_stream_reject_because(frame.tid, "unknown pathpoint")
                                    .expect("reason encodes")
                            }
                            _ => continue,
                        };
                        if framed.send(reply).await.is_err() {
                            return;
                        }
                    }
                });
            }
        });
        RejectingNgtt {
            addr,
            uploads,
            connections,
            task,
        }
    }

    /// DATA_STREAM frames received so far.
    pub fn uploads(&self) -> u64 {
        self.uploads.load(Ordering::SeqCst)
    }

    /// TLS connections accepted so far.
    pub fn connections(&self) -> u64 {
        self.connections.load(Ordering::SeqCst)
    }
}

impl Drop for RejectingNgtt {
    fn drop(&mut self) {
        self.task.abort();
    }
}
