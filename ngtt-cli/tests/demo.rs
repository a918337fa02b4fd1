//! `ngtt demo` as a user runs it: one process, no setup, a table, exit status 0.

use std::process::Command;

/// Runs `ngtt demo ARGS`, checks that it succeeded and returns its standard output.
fn demo(args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_ngtt"))
        .arg("demo")
        .args(args)
        .env("RUST_LOG", "warn")
        .output()
        .expect("run ngtt demo");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "status {:?}\nstdout:\n{stdout}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

#[test]
fn demo_runs_both_transports_and_loses_nothing() {
    let stdout = demo(&["--devices", "2", "--orders", "4", "--poll-interval", "0.5"]);
    for row in [
        "order latency, median",
        "order latency, worst",
        "bytes on the wire per order",
        "bytes per idle minute",
    ] {
        assert!(stdout.contains(row), "no {row:?} in\n{stdout}");
    }
    let line = |name: &str| {
        stdout
            .lines()
            .find(|l| l.starts_with(name))
            .unwrap_or_default()
            .to_owned()
    };
    assert!(
        line("orders lost").ends_with("0 of 8          0 of 8"),
        "{}",
        line("orders lost")
    );
    assert!(
        line("uploads confirmed").contains("6 of 6"),
        "{}",
        line("uploads confirmed")
    );
    assert!(
        line("log records stored").contains("10 of 10"),
        "{}",
        line("log records stored")
    );
    // The temporary directory is gone: nothing is left behind but the output.
    assert!(stdout.contains("temporary directory"));
}

#[test]
fn demo_refuses_nonsense() {
    let out = Command::new(env!("CARGO_BIN_EXE_ngtt"))
        .args(["demo", "--poll-interval", "0"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--poll-interval"));
    let out = Command::new(env!("CARGO_BIN_EXE_ngtt"))
        .args(["demo", "--devices", "0"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn demo_with_two_nodes_delivers_orders_across_nodes() {
    let Some(db) = ngtt_testkit::postgres::TestDatabase::create("demo_nodes") else {
        return;
    };
    let stdout = demo(&[
        "--nodes",
        "2",
        "--devices",
        "2",
        "--orders",
        "3",
        "--db",
        &db.url(),
    ]);
    let crossed: Vec<&str> = stdout
        .lines()
        .filter(|l| l.ends_with("(queued on node 1)"))
        .collect();
    assert_eq!(crossed.len(), 2, "{stdout}");
    for line in crossed {
        assert!(line.contains(" 3/3 "), "{line}");
    }
    assert!(
        stdout.contains("every order arrived and was confirmed, across nodes"),
        "{stdout}"
    );
}

#[test]
fn demo_with_nodes_needs_a_postgres_database() {
    let out = Command::new(env!("CARGO_BIN_EXE_ngtt"))
        .args(["demo", "--nodes", "2"])
        .output()
        .expect("run ngtt demo --nodes 2");
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("--db postgres://"), "{stderr}");
}
