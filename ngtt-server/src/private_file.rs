//! Files only their owner may read (mode 0600): the admin token and the TLS ticket keys, whose
//! secrets are written as [`hex`].

use std::io::Write;
use std::path::{Path, PathBuf};

fn options() -> std::fs::OpenOptions {
    let mut options = std::fs::OpenOptions::new();
    options.write(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options
}

/// Creates `path` (it must not exist) readable by its owner only, holding `text`, synced.
pub(crate) fn create_private(path: &Path, text: &str) -> std::io::Result<()> {
    let mut file = options().create_new(true).open(path)?;
    file.write_all(text.as_bytes())?;
    file.sync_all()
}

/// Replaces `path` (or creates it) with `text`, readable by its owner only: written to a
/// temporary file beside it, synced, then renamed over it, so a crash leaves the old or the new
/// content, never a mix.
pub(crate) fn replace_private(path: &Path, text: &str) -> std::io::Result<()> {
    let mut name = path.file_name().map(|n| n.to_os_string()).unwrap_or_default();
    name.push(".new");
    let temporary: PathBuf = path.with_file_name(name);
    let mut file = options().create(true).truncate(true).open(&temporary)?;
    file.write_all(text.as_bytes())?;
    file.sync_all()?;
    drop(file);
    std::fs::rename(&temporary, path)
}

/// `bytes` as lowercase hex, as secrets are written in these files.
pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
