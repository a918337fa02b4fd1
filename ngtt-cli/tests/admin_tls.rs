//! The admin API over HTTPS (`ngtt serve --admin-tls`) with real processes: `ngtt order`
//! queues and lists orders through an `https://` URL trusting `--admin-ca`; without the CA, or
//! in plain HTTP to the TLS port, it fails.

use ngtt_testkit::cli::{ok, output, stderr, Serve};

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
    let admin = |url: &str| ["--admin", url, "--admin-token-file", &token].map(str::to_owned);

    let mut send: Vec<String> = ["order", "send", "--device", "dev1", "--json", order]
        .map(str::to_owned)
        .into();
    send.extend(admin(&https));
    send.extend(["--admin-ca".to_owned(), ca.to_owned()]);
    let send: Vec<&str> = send.iter().map(String::as_str).collect();
    let id = ok(output(&send)).trim().to_owned();
    assert!(id.parse::<i64>().is_ok(), "{id}");

    let mut list: Vec<String> = ["order", "list", "--device", "dev1"].map(str::to_owned).into();
    list.extend(admin(&https));
    let mut with_ca = list.clone();
    with_ca.extend(["--admin-ca".to_owned(), ca.to_owned()]);
    let with_ca: Vec<&str> = with_ca.iter().map(String::as_str).collect();
    let listed = ok(output(&with_ca));
    assert!(listed.contains(&format!("\"id\":{id}")), "{listed}");

    // Without the CA the server's certificate is not trusted.
    let without: Vec<&str> = list.iter().map(String::as_str).collect();
    let refused = output(&without);
    assert_eq!(refused.status.code(), Some(1), "{}", stderr(&refused));

    // Plain HTTP to the TLS port gets no answer.
    let http = format!("http://{}", serve.admin);
    let mut plain: Vec<String> = ["order", "list", "--device", "dev1"].map(str::to_owned).into();
    plain.extend(admin(&http));
    let plain: Vec<&str> = plain.iter().map(String::as_str).collect();
    let refused = output(&plain);
    assert_eq!(refused.status.code(), Some(1), "{}", stderr(&refused));
    assert!(
        !stderr(&refused).contains("server answered"),
        "{}",
        stderr(&refused)
    );
    assert!(serve.stop().await.success());
}
