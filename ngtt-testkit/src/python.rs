//! The published Python client (`smok` 0.21.0) as a test peer: whether it is installed, and
//! what to do when it is not (skip, unless `NGTT_REQUIRE_PYTHON_CLIENT=1` makes it a failure).

use std::process::{Command, Stdio};

/// Whether `python3` can import the published client (`smok` 0.21.0: its HTTP device, its
/// NGTT uplink). When it cannot, a test should return at once; with
/// `NGTT_REQUIRE_PYTHON_CLIENT=1` (set by CI) this panics instead, so that CI never passes
/// without running the compatibility tests.
pub fn smok_client_installed() -> bool {
    python_can(
        "import smok.client, smok.threads.communicator, ngtt.uplink",
        "smok==0.21.0",
    )
}

/// Whether `python3 -c CODE` succeeds (typically an import of what `package` installs); the
/// same skip-or-fail rule as [`smok_client_installed`].
pub fn python_can(code: &str, package: &str) -> bool {
    let ok = Command::new("python3")
        .args(["-c", code])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|status| status.success());
    if ok {
        return true;
    }
    if std::env::var("NGTT_REQUIRE_PYTHON_CLIENT").as_deref() == Ok("1") {
        panic!("NGTT_REQUIRE_PYTHON_CLIENT=1 but python3 cannot run {code:?} (pip install {package})");
    }
    eprintln!("SKIPPED: python3 cannot run {code:?} (pip install {package})");
    false
}
