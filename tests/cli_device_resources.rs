//! `ngtt baob`, `ngtt macro`, `ngtt archive` and `ngtt metadata` as real processes against a
//! real `ngtt serve`: each family's commands, their JSON output, and a refusal reported on
//! stderr with exit status 1.

use ngtt_testkit::cli::{ok, run, Serve};
use ngtt_testkit::TestPki;
use serde_json::{json, Value};

/// Runs `ngtt WORDS... EXTRA... --admin URL --admin-token-file FILE` against `serve`: the words
/// split at spaces, the extra arguments as given.
fn admin_command(serve: &Serve, words: &str, extra: &[&str]) -> std::process::Output {
    let mut args: Vec<&str> = words.split_whitespace().collect();
    args.extend_from_slice(extra);
    serve.admin_cmd(&args)
}

/// Like [`admin_command`], for a command that must succeed: its output lines as JSON.
fn admin(serve: &Serve, words: &str, extra: &[&str]) -> Vec<Value> {
    ok(admin_command(serve, words, extra))
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSON line"))
        .collect()
}

/// Like [`admin`], for a command that must fail: its stderr.
fn refused(serve: &Serve, words: &str, extra: &[&str]) -> String {
    let out = admin_command(serve, words, extra);
    assert_eq!(out.status.code(), Some(1), "{words} {extra:?} should fail");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

async fn serve() -> (TestPki, Serve) {
    let pki = TestPki::new();
    let serve = Serve::start(pki.dir(), &pki.scratch("ngtt.db")).await;
    (pki, serve)
}

#[tokio::test]
async fn baob_commands() {
    let (pki, serve) = serve().await;
    let file = pki.scratch("fw.bin");
    std::fs::write(&file, b"\x00\x01binary\xff").unwrap();
    let f = file.to_str().unwrap();
    let put = admin(&serve, "baob put --device d1 --key fw --file", &[f]);
    assert_eq!(put, [json!({"key": "fw", "version": 0, "size": 9})]);
    let put = admin(&serve, "baob put --device d1 --key fw --version 7 --file", &[f]);
    assert_eq!(put[0]["version"], 7);
    let err = refused(&serve, "baob put --device d1 --key fw --version 3 --file", &[f]);
    assert!(err.contains("409") && err.contains("version 7"), "{err}");

    let out = pki.scratch("fw.out");
    let got = admin(
        &serve,
        "baob get --device d1 --key fw --out",
        &[out.to_str().unwrap()],
    );
    assert_eq!(got, [json!({"key": "fw", "version": 7, "size": 9})]);
    assert_eq!(std::fs::read(&out).unwrap(), b"\x00\x01binary\xff");
    let raw = admin_command(&serve, "baob get --device d1 --key fw", &[]);
    assert_eq!(raw.stdout, b"\x00\x01binary\xff");

    let list = admin(&serve, "baob list --device d1", &[]);
    assert_eq!(
        (list.len(), &list[0]["key"], &list[0]["deleted"]),
        (1, &json!("fw"), &json!(false))
    );
    let deleted = admin(&serve, "baob delete --device d1 --key fw", &[]);
    assert_eq!(deleted, [json!({"key": "fw", "version": 7, "deleted": true})]);
    assert_eq!(admin(&serve, "baob list --device d1", &[])[0]["deleted"], true);
    let err = refused(&serve, "baob get --device d1 --key fw", &[]);
    assert!(err.contains("404"), "{err}");
    serve.stop().await;
}

#[tokio::test]
async fn macro_commands() {
    let (_pki, serve) = serve().await;
    let commands = r#"[{"path": "W1", "value": 21}, {"path": "u2", "value": "on"}]"#;
    let put = admin(
        &serve,
        "macro put --device d1 --id heat --at 1796063026 --at 1796149426.5 --commands",
        &[commands],
    );
    let first = json!({"timestamp": 1_796_063_026i64, "completed": false, "completed_at": null});
    assert_eq!(put[0]["occurrences"][0], first);
    assert_eq!(put[0]["occurrences"][1]["timestamp"], 1_796_149_426.5);
    assert_eq!(
        admin(&serve, "macro list --device d1", &[])[0]["macro_id"],
        "heat"
    );
    let one = admin(&serve, "macro get --device d1 --id heat", &[]);
    assert_eq!(one[0]["commands"][1], json!({"path": "u2", "value": "on"}));
    let err = refused(&serve, "macro put --device d1 --id bad --commands []", &[]);
    assert!(err.contains("400") && err.contains("commands"), "{err}");
    let err = refused(&serve, "macro put --device d1 --id bad --commands nope", &[]);
    assert!(err.contains("not JSON"), "{err}");
    assert_eq!(
        admin(&serve, "macro delete --device d1 --id heat", &[])[0]["deleted"],
        true
    );
    assert!(refused(&serve, "macro get --device d1 --id heat", &[]).contains("404"));
    serve.stop().await;
}

#[tokio::test]
async fn archive_commands() {
    let (_pki, serve) = serve().await;
    let settings = r#"[{"interval": 600, "pathpoints": ["W2", "W1"]}]"#;
    let set = admin(&serve, "archive set --device d1 --json", &[settings]);
    assert_eq!(set, [json!([{"interval": 600, "pathpoints": ["W1", "W2"]}])]);
    assert_eq!(admin(&serve, "archive get --device d1", &[]), set);
    let bad = r#"[{"interval": 0, "pathpoints": []}]"#;
    let err = refused(&serve, "archive set --device d1 --json", &[bad]);
    assert!(err.contains("interval"), "{err}");
    assert_eq!(admin(&serve, "archive clear --device d1", &[]), [json!([])]);
    assert_eq!(admin(&serve, "archive get --device d1", &[]), [json!([])]);
    serve.stop().await;
}

#[tokio::test]
async fn metadata_commands() {
    let (_pki, serve) = serve().await;
    let key = "site/name x";
    let set = admin(
        &serve,
        "metadata set --device d1 --value Boiler --timestamp 1796063026 --key",
        &[key],
    );
    assert_eq!(set[0]["key"], key);
    assert_eq!(set[0]["timestamp"], 1_796_063_026i64);
    assert_eq!(set[0]["updated_by"], "admin");
    assert_eq!(
        admin(&serve, "metadata get --device d1 --key", &[key])[0]["value"],
        "Boiler"
    );
    assert_eq!(admin(&serve, "metadata list --device d1", &[]).len(), 1);
    let deleted = admin(&serve, "metadata delete --device d1 --key", &[key]);
    assert_eq!(deleted, [json!({"key": key, "deleted": true})]);
    let again = admin(&serve, "metadata delete --device d1 --key", &[key]);
    assert_eq!(again[0]["deleted"], false);
    let err = refused(&serve, "metadata get --device d1 --key", &[key]);
    assert!(err.contains("404"), "{err}");
    serve.stop().await;
}

#[test]
fn help_shows_examples() {
    for family in ["baob", "macro", "archive", "metadata"] {
        let lines = run(&[family, "--help"]).join("\n");
        assert!(lines.contains(&format!("ngtt {family} ")), "{family}: {lines}");
        assert!(lines.contains("Examples:"), "{family}: {lines}");
    }
}
