//! What `ngtt bench fleet` reads from `/proc`: a process's resident memory and CPU time, the
//! kernel's listen-queue drop counters, and the CPU time the hypervisor took from the host.

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

/// The host's CPU time counters (the `cpu` line of `/proc/stat`, every CPU together), in clock
/// ticks: all of it, and what the hypervisor took (`steal`: time a virtual CPU was ready to run
/// while the host ran something else).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct HostCpu {
    total: u64,
    steal: u64,
}

impl HostCpu {
    /// The counters now, if `/proc/stat` is readable.
    pub fn read() -> Option<HostCpu> {
        parse_stat(&std::fs::read_to_string("/proc/stat").ok()?)
    }

    /// The share of the host's CPU time from `before` to `self` that was stolen, in per cent;
    /// `None` when no clock tick passed (a phase shorter than 10 ms has no figure). A phase with
    /// much of it measured the machine's neighbours as much as the server: time-based figures
    /// are not comparable with a quiet run's.
    pub fn steal_percent_since(self, before: HostCpu) -> Option<f64> {
        let total = self.total.checked_sub(before.total).filter(|t| *t > 0)?;
        let steal = self.steal.saturating_sub(before.steal);
        Some(steal as f64 * 100.0 / total as f64)
    }
}

/// The steal of the host from `before` until now, in per cent (see [`HostCpu`]).
pub fn steal_since(before: Option<HostCpu>) -> Option<f64> {
    HostCpu::read()?.steal_percent_since(before?)
}

/// Parses the first `cpu ` line of `/proc/stat`: user, nice, system, idle, iowait, irq, softirq,
/// steal (the guest columns that follow are already counted in user and nice). A kernel that
/// has no steal column counts none.
fn parse_stat(text: &str) -> Option<HostCpu> {
    let line = text.lines().find(|l| l.starts_with("cpu "))?;
    let values: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .take(8)
        .map(|v| v.parse().ok())
        .collect::<Option<_>>()?;
    if values.len() < 4 {
        return None;
    }
    Some(HostCpu {
        total: values.iter().try_fold(0u64, |sum, v| sum.checked_add(*v))?,
        steal: values.get(7).copied().unwrap_or(0),
    })
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
    fn steal_is_the_stolen_share_of_all_cpu_time() {
        let before = parse_stat("cpu  100 0 50 800 10 0 5 35 7 0\ncpu0 1 2 3 4\n").unwrap();
        assert_eq!(
            before,
            HostCpu {
                total: 1000,
                steal: 35
            }
        );
        let after = parse_stat("cpu  150 0 100 1500 10 0 5 235 0 0\n").unwrap();
        assert_eq!(after.steal_percent_since(before), Some(20.0));
        assert_eq!(after.steal_percent_since(after), None);
        // An old kernel without the steal column; a line that is not numbers.
        assert_eq!(
            parse_stat("cpu  1 2 3 4\n"),
            Some(HostCpu { total: 10, steal: 0 })
        );
        assert_eq!(parse_stat("cpu  1 2 x 4 5 6 7 8\n"), None);
        assert_eq!(parse_stat("cpu  1 2\n"), None);
        assert_eq!(parse_stat("intr 1 2 3 4\n"), None);
        assert!(HostCpu::read().is_some());
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
