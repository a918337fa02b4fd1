//! Running the `ngtt` binary from a test: shared by the test files of `ngtt-cli` that drive it
//! as a child process (`mod run;`).
#![allow(dead_code)]

use std::process::{Command, Output};

/// Runs `ngtt ARGS` to completion, without an admin token from the environment.
pub fn ngtt(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ngtt"))
        .args(args)
        .env_remove("NGTT_ADMIN_TOKEN")
        .env_remove("NGTT_ADMIN_TOKEN_FILE")
        .output()
        .expect("run ngtt")
}

/// What it wrote on stdout.
pub fn stdout(out: &Output) -> String {
    String::from_utf8(out.stdout.clone()).expect("UTF-8")
}

/// What it wrote on stderr.
pub fn stderr(out: &Output) -> String {
    String::from_utf8(out.stderr.clone()).expect("UTF-8")
}

/// Its stdout, after checking that it succeeded.
pub fn ok(out: Output) -> String {
    assert!(
        out.status.success(),
        "status {:?}, stderr: {}",
        out.status,
        stderr(&out)
    );
    stdout(&out)
}
