use super::*;

const CA: &str = "-----BEGIN CERTIFICATE-----\nCA\n-----END CERTIFICATE-----\n";
const CERT: &str = "-----BEGIN CERTIFICATE-----\nSERVER\n-----END CERTIFICATE-----\n";
const PERIOD: u64 = TICKET_PERIOD.as_secs();
/// Some time well inside a period.
const T0: u64 = 20_000 * PERIOD + 100;

fn file(dir: &tempfile::TempDir) -> PathBuf {
    dir.path().join("ngtt.db.tls-tickets")
}

#[test]
fn a_ticket_opens_in_its_period_and_the_next_not_later() {
    let dir = tempfile::tempdir().unwrap();
    let keys = TicketKeys::load(Some(&file(&dir)), CA, CERT, T0).unwrap();
    let ticket = keys.seal(b"session", T0).unwrap();
    assert_ne!(&ticket[HEADER_LEN + NONCE_LEN..], b"session".as_slice(), "sealed");
    assert_eq!(keys.open(&ticket, T0).as_deref(), Some(b"session".as_slice()));
    // The next period: a new key seals, the old one still opens.
    let next = T0 + PERIOD;
    let newer = keys.seal(b"newer", next).unwrap();
    assert_ne!(
        newer[1..HEADER_LEN],
        ticket[1..HEADER_LEN],
        "another period's key"
    );
    assert_eq!(keys.open(&ticket, next).as_deref(), Some(b"session".as_slice()));
    // Two periods on, the first key is gone (from memory and from the file).
    let later = T0 + 2 * PERIOD;
    keys.seal(b"later", later).unwrap();
    assert_eq!(keys.open(&ticket, later), None);
    assert_eq!(keys.open(&newer, later).as_deref(), Some(b"newer".as_slice()));
    let text = std::fs::read_to_string(file(&dir)).unwrap();
    assert_eq!(text.lines().filter(|l| l.starts_with("key ")).count(), 2);
    assert!(!text.contains(&format!("key {} ", period_of(T0))), "{text}");
}

#[test]
fn a_ticket_opens_only_when_untouched_and_never_panics_on_junk() {
    let dir = tempfile::tempdir().unwrap();
    let keys = TicketKeys::load(Some(&file(&dir)), CA, CERT, T0).unwrap();
    let ticket = keys.seal(b"session state", T0).unwrap();
    for i in 0..ticket.len() {
        let mut bent = ticket.clone();
        bent[i] ^= 0x01;
        assert_eq!(keys.open(&bent, T0), None, "byte {i} flipped");
    }
    for len in 0..ticket.len() {
        assert_eq!(keys.open(&ticket[..len], T0), None, "cut at {len}");
    }
    let rng = SystemRandom::new();
    for len in [0, 1, 5, 17, 32, 33, 64, 300] {
        let mut junk = vec![0u8; len];
        rng.fill(&mut junk).unwrap();
        if let Some(first) = junk.first_mut() {
            *first = VERSION;
        }
        assert_eq!(keys.open(&junk, T0), None);
    }
    // A ticket claiming a future period is refused before any key is looked for.
    let mut future = ticket.clone();
    future[1..HEADER_LEN].copy_from_slice(&(period_of(T0) + 1).to_be_bytes());
    assert_eq!(keys.open(&future, T0), None);
}

#[test]
fn keys_survive_a_restart_but_not_a_change_of_certificates() {
    let dir = tempfile::tempdir().unwrap();
    let first = TicketKeys::load(Some(&file(&dir)), CA, CERT, T0).unwrap();
    let ticket = first.seal(b"session", T0).unwrap();
    drop(first);

    let restarted = TicketKeys::load(Some(&file(&dir)), CA, CERT, T0 + 60).unwrap();
    assert_eq!(
        restarted.open(&ticket, T0 + 60).as_deref(),
        Some(b"session".as_slice()),
        "the same keys after a restart"
    );

    let other_ca = CA.replace("CA", "ANOTHER CA");
    let rebound = TicketKeys::load(Some(&file(&dir)), &other_ca, CERT, T0 + 60).unwrap();
    assert_eq!(
        rebound.open(&ticket, T0 + 60),
        None,
        "a new CA: old tickets do not resume"
    );
    let again = TicketKeys::load(Some(&file(&dir)), CA, CERT, T0 + 60).unwrap();
    assert_eq!(again.open(&ticket, T0 + 60), None, "the old keys were erased");
}

#[test]
fn a_damaged_file_is_replaced_and_the_file_is_private() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(file(&dir), "not keys\n").unwrap();
    let keys = TicketKeys::load(Some(&file(&dir)), CA, CERT, T0).unwrap();
    assert!(keys.open(&keys.seal(b"s", T0).unwrap(), T0).is_some());
    let text = std::fs::read_to_string(file(&dir)).unwrap();
    assert!(text.starts_with(FILE_HEADER), "{text}");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(file(&dir)).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    // A key line that does not parse makes the whole file unusable: replaced, not half read.
    std::fs::write(file(&dir), text.replace("key ", "key x")).unwrap();
    let replaced = TicketKeys::load(Some(&file(&dir)), CA, CERT, T0).unwrap();
    assert_eq!(replaced.lock().len(), 1);
}

#[test]
fn the_default_file_is_beside_the_admin_token() {
    let pems = crate::TlsPems {
        device_ca: CA.into(),
        server_cert: CERT.into(),
        server_key: String::new(),
    };
    let mut config = crate::ServerConfig::new(pems, "/var/lib/ngtt/ngtt.db");
    assert_eq!(
        config.tls_ticket_path(),
        Some(PathBuf::from("/var/lib/ngtt/ngtt.db.tls-tickets"))
    );
    config.admin_token_file = Some("/etc/ngtt/fleet.admin-token".into());
    assert_eq!(
        config.tls_ticket_path(),
        Some(PathBuf::from("/etc/ngtt/fleet.tls-tickets"))
    );
    config.admin_token_file = Some("/etc/ngtt/token".into());
    assert_eq!(
        config.tls_ticket_path(),
        Some(PathBuf::from("/etc/ngtt/token.tls-tickets"))
    );
    config.tls_ticket_file = Some("/run/keys".into());
    assert_eq!(config.tls_ticket_path(), Some(PathBuf::from("/run/keys")));
    // PostgreSQL with the token given directly: no file to put the keys beside.
    config.tls_ticket_file = None;
    config.admin_token_file = None;
    config.admin_token = Some("t".into());
    config.postgres = Some(crate::PostgresUrl::parse("postgres://127.0.0.1/test").unwrap());
    assert_eq!(config.tls_ticket_path(), None);
}

#[test]
fn keys_in_memory_only_write_no_file() {
    let dir = tempfile::tempdir().unwrap();
    let keys = TicketKeys::load(None, CA, CERT, T0).unwrap();
    let ticket = keys.seal(b"session", T0 + PERIOD).unwrap();
    assert_eq!(
        keys.open(&ticket, T0 + PERIOD).as_deref(),
        Some(b"session".as_slice())
    );
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
}

#[test]
fn a_key_that_cannot_be_saved_serves_from_memory_but_a_first_start_fails() {
    let dir = tempfile::tempdir().unwrap();
    let path = file(&dir);
    let keys = TicketKeys::load(Some(&path), CA, CERT, T0).unwrap();
    // The file's directory is gone: the next period's key cannot be written.
    drop(dir);
    let next = T0 + PERIOD;
    let ticket = keys.seal(b"session", next).expect("sealed with the new key");
    assert_eq!(
        ticket[1..HEADER_LEN],
        period_of(next).to_be_bytes(),
        "the new period's key"
    );
    assert_eq!(keys.open(&ticket, next).as_deref(), Some(b"session".as_slice()));
    assert!(!path.exists());
    // At start, a file that cannot be written is an error, not a silent memory-only key.
    assert!(matches!(
        TicketKeys::load(Some(&path), CA, CERT, T0),
        Err(ServerError::ReadFile { .. })
    ));
}
