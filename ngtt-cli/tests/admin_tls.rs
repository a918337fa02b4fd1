//! The admin API over HTTPS (`ngtt serve --admin-tls`) with real processes: `ngtt order`
//! queues and lists orders through an `https://` URL trusting `--admin-ca`; without the CA, or
//! in plain HTTP to the TLS port, it fails.

use ngtt_testkit::cli::{admin_output, ok, output, stderr, Serve};

#[tokio::test]
async fn the_cli_talks_to_the_admin_api_over_https() {
    let dir = tempfile::tempdir().unwrap();
    let pki = dir.path().join("pki");
    let pki_arg = pki.to_str().unwrap();
    ok(output(&["pki", "init", "--dir", pki_arg]));
    let ca = pki.join("ca.pem");
    let ca = ca.to_str().unwrap();
    let serve = Serve::start_with(&pki, &dir.path().join("ngtt.db"), &["--admin-tls"]).await;
    let https = format!("https://{}", serve.admin);
    let token = serve.token_file_arg().to_owned();
    let order = r#"[{"orders": [{"type": "write", "path": "W1", "value": 5}]}]"#;
    let send = [
        "order",
        "send",
        "--device",
        "dev1",
        "--json",
        order,
        "--admin-ca",
        ca,
    ];
    let id = ok(admin_output(&send, &https, &token)).trim().to_owned();
    assert!(id.parse::<i64>().is_ok(), "{id}");

    let list = ["order", "list", "--device", "dev1"];
    let with_ca = [&list[..], &["--admin-ca", ca]].concat();
    let listed = ok(admin_output(&with_ca, &https, &token));
    assert!(listed.contains(&format!("\"id\":{id}")), "{listed}");

    // Without the CA the server's certificate is not trusted.
    let refused = admin_output(&list, &https, &token);
    assert_eq!(refused.status.code(), Some(1), "{}", stderr(&refused));

    // Plain HTTP to the TLS port gets no answer.
    let http = format!("http://{}", serve.admin);
    let refused = admin_output(&list, &http, &token);
    assert_eq!(refused.status.code(), Some(1), "{}", stderr(&refused));
    assert!(
        !stderr(&refused).contains("server answered"),
        "{}",
        stderr(&refused)
    );
    assert!(serve.stop().await.success());
}
