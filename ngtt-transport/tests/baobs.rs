//! SYNC_BAOB over real TLS: a request answered by its tid, a malformed answer, and a request
//! whose connection is lost.

use std::collections::BTreeMap;

use bytes::Bytes;
use ngtt_proto::payload::{SyncBaobRequest, SyncBaobResponse};
use ngtt_proto::{Frame, FrameType};
use ngtt_testkit::{close_gracefully, Conn, ScriptedLink, ScriptedServer};
use ngtt_transport::{Transport, TransportError};
use tokio::task::JoinHandle;

fn held() -> SyncBaobRequest {
    SyncBaobRequest(BTreeMap::from([
        ("firmware".to_owned(), 3),
        ("new".to_owned(), 0),
    ]))
}

/// A device without orders, connected to a scripted server.
async fn connected() -> (Transport, Conn, ScriptedServer) {
    let (transport, _orders, conn, server) = ScriptedLink::start(|c| c.with_fetch_orders(false))
        .await
        .into_parts();
    transport.connected().await.expect("connected"); // requests are not queued while offline
    (transport, conn, server)
}

/// Asks `held` in a task of its own.
fn ask(transport: &Transport, held: SyncBaobRequest) -> JoinHandle<Result<SyncBaobResponse, TransportError>> {
    let t = transport.clone();
    tokio::spawn(async move { t.sync_baobs(held).await })
}

#[tokio::test]
async fn requests_are_answered_by_tid() {
    let (transport, mut conn, _server) = connected().await;
    let asked = ask(&transport, held());
    let frame = conn.recv_answering_pings().await;
    assert_eq!(frame.kind, FrameType::SyncBaobRequest);
    assert_eq!(frame.payload_as::<SyncBaobRequest>().unwrap(), held());
    let answer = SyncBaobResponse {
        download: vec!["firmware".into()],
        upload: vec!["new".into()],
        delete: vec![],
    };
    // An answer with another tid is not this request's.
    conn.send(Frame::sync_baob_response(frame.tid.wrapping_add(1), &SyncBaobResponse::default()).unwrap())
        .await;
    conn.send(Frame::sync_baob_response(frame.tid, &answer).unwrap())
        .await;
    assert_eq!(asked.await.unwrap().unwrap(), answer);

    // An answer that is not a SYNC_BAOB_RESPONSE is an error to the caller, not to the link.
    let asked = ask(&transport, held());
    let frame = conn.recv_answering_pings().await;
    conn.send(Frame::new(
        FrameType::SyncBaobResponse,
        frame.tid,
        Bytes::from_static(b"\xff"),
    ))
    .await;
    assert!(matches!(asked.await.unwrap(), Err(TransportError::Proto(_))));
    assert!(close_gracefully(&transport, conn).await.0.flushed);
}

#[tokio::test]
async fn a_lost_connection_fails_the_request() {
    let (transport, mut conn, server) = connected().await;
    let asked = ask(&transport, held());
    let frame = conn.recv_answering_pings().await;
    assert_eq!(frame.kind, FrameType::SyncBaobRequest);
    drop(conn);
    let err = asked.await.unwrap().expect_err("the connection was lost");
    assert!(matches!(err, TransportError::ConnectionLost), "{err:?}");
    // Not sent again on the next connection: the caller asks again.
    let mut conn = server.accept().await;
    let mut state = transport.watch_state();
    state
        .wait_for(|s| matches!(s, ngtt_transport::ConnectionState::Connected { epoch, .. } if *epoch >= 2))
        .await
        .expect("connected again");
    let again = ask(&transport, SyncBaobRequest::default());
    let frame = conn.recv_answering_pings().await;
    assert_eq!(
        frame.payload_as::<SyncBaobRequest>().unwrap(),
        SyncBaobRequest::default()
    );
    conn.send(Frame::sync_baob_response(frame.tid, &SyncBaobResponse::default()).unwrap())
        .await;
    assert_eq!(again.await.unwrap().unwrap(), SyncBaobResponse::default());
    assert!(close_gracefully(&transport, conn).await.0.flushed);
}
