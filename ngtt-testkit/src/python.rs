//! The published Python client (`smok` 0.21.0) as a test peer: whether it is installed, and
//! what to do when it is not (skip, unless `NGTT_REQUIRE_PYTHON_CLIENT=1` makes it a failure).

use std::process::{Command, Stdio};

/// Whether `python3` can import the published client. When it cannot, a test should return at
/// once; with `NGTT_REQUIRE_PYTHON_CLIENT=1` (set by CI) this panics instead, so that CI never
/// passes without running the compatibility tests.
pub fn smok_client_installed() -> bool {
    let imported = Command::new("python3")
        .args(["-c", "import smok.client, ngtt.uplink"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|status| status.success());
    if imported {
        return true;
    }
    if std::env::var("NGTT_REQUIRE_PYTHON_CLIENT").as_deref() == Ok("1") {
        panic!(
            "NGTT_REQUIRE_PYTHON_CLIENT=1 but python3 cannot import smok 0.21.0 (pip install smok==0.21.0)"
        );
    }
    eprintln!("SKIPPED: python3 with smok==0.21.0 is not installed (pip install smok==0.21.0)");
    false
}
