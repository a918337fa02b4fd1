//! Device ids that forge log lines are refused at the handshake, over real sockets, and the
//! log shows them escaped and cut: a newline, ANSI codes, a 20 KiB id.

use ngtt_pki::DeviceCertOptions;
use ngtt_testkit::{CapturedLogs, RawDevice, TestPki, TestServer};

#[tokio::test]
async fn forged_ids_are_refused_and_never_logged_raw() {
    let log = CapturedLogs::install();
    let pki = TestPki::new();
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(&pki, dir.path().join("db"), |_| {}).await;
    // ngtt-pki repeats the id in the subject name, so 20 KiB keeps the certificate under the
    // 64 KiB a TLS certificate message allows.
    let long = "L".repeat(20 * 1024);
    let forged = [
        "dev1\n2026-01-01T00:00:00Z  INFO forged: admin logged in".to_owned(),
        "dev\x1b[31mred\x1b[0m".to_owned(),
        long.clone(),
    ];
    for id in &forged {
        let cert = pki.odd_device(&DeviceCertOptions {
            device_id: Some(id.clone()),
            ..DeviceCertOptions::default()
        });
        // The handshake itself succeeds (the certificate chains); the server then refuses.
        if let Ok(mut device) = RawDevice::connect(server.addr, &pki, Some(&cert)).await {
            device.expect_closed().await;
        }
    }
    assert!(server.handle.connected_devices().is_empty());
    // A good device still gets in, and is logged with its id.
    let good = pki.device("good-1");
    let mut device = RawDevice::connect(server.addr, &pki, Some(&good)).await.unwrap();
    device.ping(1).await;
    server.stop().await;

    let text = log.text();
    assert!(!text.contains('\x1b'), "raw ANSI in the log:\n{text}");
    assert!(
        !text
            .lines()
            .any(|l| l.starts_with("2026-01-01T00:00:00Z  INFO forged")),
        "a forged line:\n{text}"
    );
    assert!(
        text.contains("INFO forged"),
        "the forged id is shown, escaped:\n{text}"
    );
    assert!(text.contains("\\u{1b}[31m"), "{text}");
    assert!(
        text.contains(&format!("device id of {} bytes", long.len())),
        "{text}"
    );
    assert!(!text.contains(&"L".repeat(300)), "the long id reached the log");
    assert_eq!(text.matches("connection refused").count(), 3, "{text}");
    assert!(text.contains("good-1"), "{text}");
}
