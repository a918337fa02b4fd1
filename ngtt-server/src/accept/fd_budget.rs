//! The open-file budget: the soft `RLIMIT_NOFILE` raised to the hard limit at start, a reserve
//! kept for the admin API, storage, logs and listeners, and the connection limits clamped to
//! what is left ([`fd_budget`]).

/// How the descriptors left after the reserve are shared out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct FdBudget {
    /// NGTT connections that fit (the requested limit, or less).
    pub(crate) ngtt: usize,
    /// Device HTTP API connections that fit (the requested limit, or less).
    pub(crate) http: usize,
}

/// The connection limits that fit `open_files` descriptors with `reserve` kept aside: the
/// device HTTP API gets at most a quarter of what is left (and at least one when enabled), the
/// NGTT listeners the rest, at least one. One descriptor per connection.
pub(crate) fn fd_budget(open_files: u64, reserve: usize, want_ngtt: usize, want_http: usize) -> FdBudget {
    let open_files = usize::try_from(open_files).unwrap_or(usize::MAX);
    let left = open_files.saturating_sub(reserve);
    let http = if want_http == 0 {
        0
    } else {
        want_http.min(left / 4).max(1)
    };
    let ngtt = want_ngtt.min(left.saturating_sub(http)).max(1);
    FdBudget { ngtt, http }
}

/// Raises the soft open-file limit to the hard one; returns the soft limit in force afterwards
/// (`None` where there is no such limit, or it cannot be read).
#[cfg(unix)]
pub(crate) fn raise_open_file_limit() -> Option<u64> {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes a `struct rlimit` into the valid pointer it is given.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } != 0 {
        return None;
    }
    if limit.rlim_cur < limit.rlim_max {
        let raised = libc::rlimit {
            rlim_cur: limit.rlim_max,
            rlim_max: limit.rlim_max,
        };
        // SAFETY: setrlimit reads a valid `struct rlimit`; raising the soft limit up to the
        // hard one needs no privilege.
        if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &raised) } == 0 {
            limit = raised;
        } else {
            tracing::warn!(
                soft = limit.rlim_cur,
                hard = limit.rlim_max,
                "could not raise the open-file limit to the hard limit: {}",
                std::io::Error::last_os_error()
            );
        }
    }
    if limit.rlim_cur == libc::RLIM_INFINITY {
        return None;
    }
    // `rlim_t` is u64 on Linux, narrower or signed on some other Unixes.
    #[allow(clippy::unnecessary_cast)]
    Some(limit.rlim_cur as u64)
}

/// Raises the soft open-file limit to the hard one (no such limit here).
#[cfg(not(unix))]
pub(crate) fn raise_open_file_limit() -> Option<u64> {
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_that_fit_are_kept() {
        assert_eq!(
            fd_budget(20_000, 128, 10_000, 1024),
            FdBudget {
                ngtt: 10_000,
                http: 1024
            }
        );
    }

    #[test]
    fn ngtt_gets_what_the_reserve_and_the_http_api_leave() {
        // 1 024 - 128 = 896 left; the HTTP API's 1 024 is cut to a quarter, 224.
        assert_eq!(
            fd_budget(1024, 128, 10_000, 1024),
            FdBudget { ngtt: 672, http: 224 }
        );
        // Enough for the HTTP API's own limit.
        assert_eq!(
            fd_budget(4096, 128, 10_000, 100),
            FdBudget {
                ngtt: 3868,
                http: 100
            }
        );
        // HTTP API off: all of it.
        assert_eq!(fd_budget(1024, 128, 10_000, 0), FdBudget { ngtt: 896, http: 0 });
    }

    #[test]
    fn a_limit_below_the_reserve_still_serves_one_connection_each() {
        assert_eq!(fd_budget(64, 128, 1000, 1000), FdBudget { ngtt: 1, http: 1 });
        assert_eq!(fd_budget(0, 0, 5, 0), FdBudget { ngtt: 1, http: 0 });
    }

    #[test]
    fn huge_limits_do_not_overflow() {
        assert_eq!(
            fd_budget(u64::MAX, usize::MAX, 7, 3),
            FdBudget { ngtt: 1, http: 1 }
        );
        assert_eq!(fd_budget(u64::MAX, 128, 7, 3), FdBudget { ngtt: 7, http: 3 });
    }
}
