//! The orchestrator's side of the worker processes: spawning them (this executable re-invoked
//! as `ngtt bench fleet-worker`), sending commands, and folding their events into one state.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, ChildStdin, Command};
use tokio::sync::mpsc;

use crate::error::CliError;

/// Devices per worker process: the open-file limit is 20 000 per process here, and the server
/// on the same host needs its own share of ephemeral ports per source address.
pub const DEFAULT_PER_PROCESS: usize = 8_000;

/// Source addresses each worker spreads its devices over: with 256 handshakes in flight per
/// worker, four per address, within the server's default per-address handshake limit (16), as a
/// fleet behind many addresses would be.
pub const SOURCES_PER_PROCESS: u32 = 64;

/// One event of one worker.
#[derive(Debug)]
enum Line {
    Ready,
    Up(usize, usize, u128),
    Down(usize),
    Order(usize, u64, u128),
    Pong,
    Uploaded(usize, u64, u64, u128),
    Bytes(u64, u64),
    Exited,
}

fn parse(line: &str) -> Option<Line> {
    let mut parts = line.split_whitespace();
    let kind = parts.next()?;
    let mut num = || parts.next()?.parse::<u128>().ok();
    Some(match kind {
        "ready" => Line::Ready,
        "u" => Line::Up(num()? as usize, num()? as usize, num()?),
        "d" => Line::Down(num()? as usize),
        "o" => Line::Order(num()? as usize, num()? as u64, num()?),
        "p" => Line::Pong,
        "U" => Line::Uploaded(num()? as usize, num()? as u64, num()? as u64, num()?),
        "b" => Line::Bytes(num()? as u64, num()? as u64),
        _ => return None,
    })
}

/// The worker processes of one run, and what they reported.
pub struct Fleet {
    children: Vec<Child>,
    stdins: Vec<ChildStdin>,
    rx: mpsc::UnboundedReceiver<(usize, Line)>,
    /// Devices in the fleet.
    pub size: usize,
    /// Device id prefix of the fleet.
    prefix: String,
    /// Whether each device is connected now.
    pub up: Vec<bool>,
    /// Connected devices now.
    pub up_count: usize,
    /// The node each device connected to last.
    pub node: Vec<usize>,
    /// Each device's first connection since [`Fleet::mark`]: node and time (ns).
    pub first_up_since_mark: Vec<Option<(usize, u128)>>,
    /// When each device last had every upload it owed answered (ns), since
    /// [`Fleet::upload`] asked it for more.
    pub uploaded: Vec<Option<u128>>,
    /// Uploads confirmed and rejected, per device, as last reported.
    upload_counts: Vec<(u64, u64)>,
    /// Connections established since [`Fleet::mark`].
    pub ups_since_mark: usize,
    /// Distinct devices up since the mark.
    pub distinct_up_since_mark: usize,
    /// Order receipts: sequence number → (device, time in ns) of every delivery.
    pub receipts: HashMap<u64, Vec<(usize, u128)>>,
    /// Keepalives answered.
    pub pongs: u64,
    bytes: HashMap<usize, (u64, u64)>,
    ready: usize,
    exited: usize,
}

impl Fleet {
    /// Spawns the workers for `size` devices against the server nodes `servers` (each device
    /// with its home node first), `per_process` each, and waits until they have issued their
    /// certificates.
    pub async fn spawn(
        pki: &Path,
        servers: &[SocketAddr],
        prefix: &str,
        size: usize,
        per_process: usize,
        mqtt: bool,
    ) -> Result<Fleet, CliError> {
        let exe = std::env::current_exe().map_err(|source| CliError::Io {
            context: "finding the ngtt executable",
            source,
        })?;
        let (tx, rx) = mpsc::unbounded_channel();
        let mut children = Vec::new();
        let mut stdins = Vec::new();
        let per_process = per_process.max(1);
        for (w, first) in (0..size).step_by(per_process).enumerate() {
            let count = per_process.min(size - first);
            // 127.1.0.1, 127.2.0.1, ...: each worker its own range of source addresses (and
            // so its own ephemeral ports).
            let source = IpAddr::V4(Ipv4Addr::new(127, 1 + (w % 250) as u8, 0, 1));
            let mut command = Command::new(&exe);
            command
                .args(["bench", "fleet-worker", "--pki"])
                .arg(pki)
                .args(
                    servers
                        .iter()
                        .flat_map(|s| ["--server".to_owned(), s.to_string()]),
                )
                .args(["--prefix", prefix])
                .args(["--first", &first.to_string(), "--count", &count.to_string()])
                .args(["--source", &source.to_string()])
                .args(["--sources", &SOURCES_PER_PROCESS.to_string()])
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::inherit())
                .kill_on_drop(true);
            if mqtt {
                command.arg("--mqtt");
            }
            let mut child = command.spawn().map_err(|source| CliError::Io {
                context: "starting a fleet worker",
                source,
            })?;
            stdins.push(child.stdin.take().expect("piped"));
            let stdout = child.stdout.take().expect("piped");
            let tx = tx.clone();
            tokio::spawn(async move {
                let mut lines = BufReader::new(stdout).lines();
                while let Ok(Some(line)) = lines.next_line().await {
                    if let Some(event) = parse(&line) {
                        let _ = tx.send((w, event));
                    }
                }
                let _ = tx.send((w, Line::Exited));
            });
            children.push(child);
        }
        let mut fleet = Fleet {
            children,
            stdins,
            rx,
            size,
            prefix: prefix.to_owned(),
            up: vec![false; size],
            up_count: 0,
            node: vec![0; size],
            first_up_since_mark: vec![None; size],
            uploaded: vec![None; size],
            upload_counts: vec![(0, 0); size],
            ups_since_mark: 0,
            distinct_up_since_mark: 0,
            receipts: HashMap::new(),
            pongs: 0,
            bytes: HashMap::new(),
            ready: 0,
            exited: 0,
        };
        let workers = fleet.children.len();
        if !fleet.wait(Duration::from_secs(600), |f| f.ready == workers).await {
            return Err(CliError::Bench(
                "the fleet workers did not issue their certificates".into(),
            ));
        }
        Ok(fleet)
    }

    /// The device id of device `idx`.
    pub fn device_id(&self, idx: usize) -> String {
        super::worker::device_id(&self.prefix, idx)
    }

    /// Sends `command` to every worker.
    pub async fn command(&mut self, command: &str) -> Result<(), CliError> {
        for stdin in &mut self.stdins {
            stdin
                .write_all(format!("{command}\n").as_bytes())
                .await
                .map_err(|source| CliError::Io {
                    context: "commanding a fleet worker",
                    source,
                })?;
        }
        Ok(())
    }

    /// Uploads confirmed and rejected so far, all devices.
    pub fn upload_totals(&self) -> (u64, u64) {
        self.upload_counts
            .iter()
            .fold((0, 0), |(c, r), (dc, dr)| (c + dc, r + dr))
    }

    /// Asks each device (or each of `only`) for `count` more uploads, `window` in flight;
    /// forgets when the devices asked last finished.
    pub async fn upload(&mut self, count: u32, window: u32, only: Option<&[usize]>) -> Result<(), CliError> {
        self.poll();
        self.uploaded.iter_mut().for_each(|u| *u = None);
        let only = only.map_or_else(
            || "-".to_owned(),
            |only| only.iter().map(ToString::to_string).collect::<Vec<_>>().join(","),
        );
        self.command(&format!("upload {count} {window} {only}")).await
    }

    /// Forgets who came up so far: [`Fleet::distinct_up_since_mark`] counts from now.
    pub fn mark(&mut self) {
        self.first_up_since_mark.iter_mut().for_each(|u| *u = None);
        self.distinct_up_since_mark = 0;
        self.ups_since_mark = 0;
    }

    fn apply(&mut self, line: Line) {
        match line {
            Line::Ready => self.ready += 1,
            Line::Up(idx, node, at) if idx < self.size => {
                if !self.up[idx] {
                    self.up[idx] = true;
                    self.up_count += 1;
                }
                self.node[idx] = node;
                self.ups_since_mark += 1;
                if self.first_up_since_mark[idx].is_none() {
                    self.first_up_since_mark[idx] = Some((node, at));
                    self.distinct_up_since_mark += 1;
                }
            }
            Line::Uploaded(idx, confirmed, rejected, at) if idx < self.size => {
                self.uploaded[idx] = Some(at);
                self.upload_counts[idx] = (confirmed, rejected);
            }
            Line::Down(idx) if idx < self.size => {
                if self.up[idx] {
                    self.up[idx] = false;
                    self.up_count -= 1;
                }
            }
            Line::Order(idx, seq, at) => self.receipts.entry(seq).or_default().push((idx, at)),
            Line::Pong => self.pongs += 1,
            Line::Exited => self.exited += 1,
            Line::Up(..) | Line::Down(_) | Line::Uploaded(..) | Line::Bytes(..) => {}
        }
    }

    /// Takes in what the workers reported so far, without waiting.
    pub fn poll(&mut self) {
        while let Ok((w, line)) = self.rx.try_recv() {
            self.take(w, line);
        }
    }

    fn take(&mut self, w: usize, line: Line) {
        if let Line::Bytes(out, inb) = line {
            self.bytes.insert(w, (out, inb));
        } else {
            self.apply(line);
        }
    }

    /// Takes in events until `done` holds (true) or `timeout` passes (false). Fails early
    /// (false) when every worker has exited.
    pub async fn wait(&mut self, timeout: Duration, done: impl Fn(&Fleet) -> bool) -> bool {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            self.poll();
            if done(self) {
                return true;
            }
            if self.exited == self.children.len() {
                return false;
            }
            match tokio::time::timeout_at(deadline, self.rx.recv()).await {
                Ok(Some((w, line))) => self.take(w, line),
                Ok(None) | Err(_) => return done(self),
            }
        }
    }

    /// Bytes on the wire of all devices so far: (device → server, server → device).
    pub async fn bytes(&mut self) -> Result<(u64, u64), CliError> {
        self.bytes.clear();
        self.command("bytes").await?;
        let workers = self.children.len();
        if !self
            .wait(Duration::from_secs(30), |f| f.bytes.len() == workers)
            .await
        {
            return Err(CliError::Bench(
                "the fleet workers did not report their byte counts".into(),
            ));
        }
        Ok(self
            .bytes
            .values()
            .fold((0, 0), |(o, i), (wo, wi)| (o + wo, i + wi)))
    }

    /// Ends the workers (closing their stdin) and waits for them.
    pub async fn stop(mut self) {
        self.stdins.clear();
        for child in &mut self.children {
            if tokio::time::timeout(Duration::from_secs(10), child.wait())
                .await
                .is_err()
            {
                let _ = child.start_kill();
            }
        }
    }
}
