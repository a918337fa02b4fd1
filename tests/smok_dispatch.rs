//! `smok-client`'s framework dispatching what is neither a read nor a write, against a real
//! server (in-process, the same code as `ngtt serve`) in both modes: a `sysctl` order queued
//! on the server reaches the program's `on_sysctl` hook with its arguments, a `message` order
//! is reported back to the server by the framework, and the sync hooks are called — the
//! success hook while the server answers, the failure hook once it is gone.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ngtt_testkit::smok::{any_port, device_builder, start_server, Mode};
use ngtt_testkit::{both_modes, init_logging, wait_until, TestPki};
use serde_json::json;
use smok_client::executor::HandlerError;

both_modes!(sysctl_message_and_sync_hooks);

async fn sysctl_message_and_sync_hooks(mode: Mode) {
    init_logging();
    let pki = TestPki::new();
    let server = start_server(&pki, pki.dir().join("ngtt.db"), any_port(), any_port()).await;
    let id = "dispatch-1";
    let sysctls = Arc::new(Mutex::new(Vec::<(String, String)>::new()));
    let (ok, failed) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let seen = sysctls.clone();
    let (on_ok, on_failed) = (ok.clone(), failed.clone());
    let (device, orders) = device_builder(&pki, id, mode, server.addr, server.http_addr())
        .sync_sensors(false)
        .time_zone_refresh_interval(Duration::from_millis(100))
        .on_sysctl(move |order| {
            let seen = seen.clone();
            async move {
                if order.op_type == "refuse-me" {
                    return Err(HandlerError::unsupported("refuse-me"));
                }
                seen.lock().unwrap().push((order.op_type, order.op_args));
                Ok(())
            }
        })
        .on_successful_sync(move || {
            on_ok.fetch_add(1, Ordering::SeqCst);
        })
        .on_failed_sync(move || {
            on_failed.fetch_add(1, Ordering::SeqCst);
        })
        .build()
        .expect("device");
    device.spawn_order_executor(orders);

    server
        .queue(
            id,
            json!([
                {"orders": [{"type": "sysctl", "op_type": "refuse-me", "op_args": ""},
                            {"type": "sysctl", "op_type": "reboot", "op_args": "in 5 s"}]},
                {"orders": [{"type": "message", "uuid": "msg-7"}], "disposition": 1}
            ]),
        )
        .await;
    server
        .until("the message reported", |s| {
            let messages = s.handle.storage().list_messages(id, 10).unwrap();
            messages.iter().any(|m| m.uuid == "msg-7")
        })
        .await;
    assert_eq!(
        *sysctls.lock().unwrap(),
        [("reboot".to_owned(), "in 5 s".to_owned())],
        "the hook's sysctl, once, after the one it refused"
    );
    wait_until("a successful sync", || ok.load(Ordering::SeqCst) > 0).await;
    assert_eq!(
        failed.load(Ordering::SeqCst),
        0,
        "the server answered every exchange"
    );

    // The server goes away: exchanges fail, and the failure hook says so.
    server.stop().await;
    wait_until("a failed sync", || failed.load(Ordering::SeqCst) > 0).await;
    device.close(Duration::from_secs(1)).await;
}
