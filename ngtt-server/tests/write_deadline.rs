//! A device that never reads is dropped at the write deadline, however busy it keeps its side
//! of the connection, and loses nothing: its orders go to its next connection.

use std::time::Duration;

use ngtt_server::OrderState;
use ngtt_testkit::{TestPki, TestServer};

/// One ORDER of about `len` bytes: a list of one section of one string.
fn big_order(len: usize) -> Vec<u8> {
    minijson::to_vec(&vec![vec!["x".repeat(len)]]).expect("MiniJSON")
}

#[tokio::test]
async fn a_device_that_never_reads_is_dropped() {
    let pki = TestPki::new();
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(&pki, dir.path().join("db"), |c| {
        c.write_timeout = Duration::from_secs(1);
    })
    .await;
    // Far more than the socket buffers of both ends hold: the server's writes must stall.
    let mut ids = Vec::new();
    for _ in 0..8 {
        ids.push(server.queue_bytes("deaf", big_order(4 << 20)).await);
    }
    let mut deaf = server.device(&pki, "deaf").await;
    deaf.fetch_orders().await;
    server
        .until("the orders were claimed", |s| s.state(ids[0]) == OrderState::Sent)
        .await;
    // It keeps talking (so it is never idle) but never reads.
    let talking = async {
        for tid in 1.. {
            if deaf.try_send(ngtt_proto::Frame::ping(tid)).await.is_err() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    };
    let dropped = server.until("the deaf device dropped", |s| {
        s.handle.connected_devices().is_empty()
    });
    tokio::select! {
        () = dropped => {}
        () = talking => {}
    }
    server
        .until("the deaf device dropped", |s| {
            s.handle.connected_devices().is_empty()
        })
        .await;
    for &id in &ids {
        assert_eq!(server.state(id), OrderState::Sent, "order {id} stays pending");
    }
    // The orders go to the next connection, in queue order.
    let mut dev = server.device(&pki, "deaf").await;
    dev.fetch_orders().await;
    let mut tids = Vec::new();
    for _ in &ids {
        let frame = dev.recv().await;
        assert_eq!(frame.kind, ngtt_proto::FrameType::Order);
        assert!(frame.payload.len() > 4 << 20);
        tids.push(frame.tid);
    }
    for tid in tids {
        dev.send(ngtt_proto::Frame::order_confirm(tid)).await;
    }
    server.until_answered(&ids).await;
    assert_eq!(server.state(ids[0]), OrderState::Confirmed);
    server.stop().await;
}
