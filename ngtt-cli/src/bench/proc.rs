//! What `ngtt bench fleet` reads from `/proc`: a process's resident memory and CPU time, and the
//! kernel's listen-queue drop counters.

use std::process::Command;

/// Resident set size of process `pid` in bytes (`VmRSS`), if readable.
pub fn rss_bytes(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// User + system CPU time of process `pid` (all its threads) in seconds, if readable.
pub fn cpu_seconds(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may hold spaces: count fields after its closing bracket.
    let rest = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // Fields 14 (utime) and 15 (stime), i.e. the 12th and 13th after the bracket.
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime) as f64 / clock_ticks())
}

/// Resident set size of all of `pids` together, if every one is readable (and there is one).
pub fn rss_total(pids: &[u32]) -> Option<u64> {
    if pids.is_empty() {
        return None;
    }
    pids.iter().map(|p| rss_bytes(*p)).sum()
}

/// CPU time of all of `pids` together, if every one is readable (and there is one).
pub fn cpu_total(pids: &[u32]) -> Option<f64> {
    if pids.is_empty() {
        return None;
    }
    pids.iter().map(|p| cpu_seconds(*p)).sum()
}

/// Clock ticks per second (`getconf CLK_TCK`, 100 on Linux when it cannot be asked).
fn clock_ticks() -> f64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse::<f64>().ok())
        .filter(|t| *t > 0.0)
        .unwrap_or(100.0)
}

/// The kernel's `TcpExt` `ListenOverflows` and `ListenDrops` counters (whole host).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ListenDrops {
    /// SYNs or completed connections dropped because a listen queue was full.
    pub overflows: u64,
    /// Connections dropped at listen sockets for any reason (includes overflows).
    pub drops: u64,
}

impl ListenDrops {
    /// The counters now, if `/proc/net/netstat` is readable.
    pub fn read() -> Option<ListenDrops> {
        parse_netstat(&std::fs::read_to_string("/proc/net/netstat").ok()?)
    }

    /// What grew from `before` to `self`.
    pub fn since(self, before: ListenDrops) -> ListenDrops {
        ListenDrops {
            overflows: self.overflows.saturating_sub(before.overflows),
            drops: self.drops.saturating_sub(before.drops),
        }
    }
}

/// Parses the `TcpExt:` header and value lines of `/proc/net/netstat`.
fn parse_netstat(text: &str) -> Option<ListenDrops> {
    let mut lines = text.lines().filter(|l| l.starts_with("TcpExt:"));
    let names: Vec<&str> = lines.next()?.split_whitespace().collect();
    let values: Vec<&str> = lines.next()?.split_whitespace().collect();
    let get = |name: &str| -> Option<u64> {
        let i = names.iter().position(|n| *n == name)?;
        values.get(i)?.parse().ok()
    };
    Some(ListenDrops {
        overflows: get("ListenOverflows")?,
        drops: get("ListenDrops")?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn netstat_counters_are_found_by_name() {
        let text = "TcpExt: SyncookiesSent ListenOverflows ListenDrops\nTcpExt: 1 7 9\n\
                    IpExt: InNoRoutes\nIpExt: 0\n";
        assert_eq!(
            parse_netstat(text),
            Some(ListenDrops {
                overflows: 7,
                drops: 9
            })
        );
        assert_eq!(parse_netstat("IpExt: a\nIpExt: 1\n"), None);
    }

    #[test]
    fn own_process_is_readable() {
        let pid = std::process::id();
        assert!(rss_bytes(pid).is_some_and(|r| r > 0));
        assert!(cpu_seconds(pid).is_some());
        let one = rss_bytes(pid).unwrap();
        assert!(rss_total(&[pid, pid]).is_some_and(|r| r >= one));
        assert_eq!(rss_total(&[]), None);
        assert!(cpu_total(&[pid]).is_some());
    }
}
