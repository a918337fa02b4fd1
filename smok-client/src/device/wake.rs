//! [`sleep`]: a sleep that wakes the process once, at its end.
//!
//! tokio's timer wheel wakes a thread that sleeps for seconds up to three times: at the start
//! of the wheel slot holding the deadline (slots are 4.1 s wide for deadlines 4–262 s ahead,
//! 4.4 min wide beyond), again at the start of its 64 ms slot, then at the deadline. A device
//! that sleeps most of the time pays for each wake-up (a context switch, tens of microseconds on
//! a loaded machine), and those cascades were most of what an idle device spent
//! (`docs/benchmarks.md`, issue 10). On Linux a sleep of at least [`SHORT`] is a `timerfd`
//! watched by the runtime's own reactor: the kernel wakes the thread once, at the deadline.
//! Elsewhere, or if a timer cannot be made, it is tokio's sleep.
//!
//! Unlike tokio's sleep, it does not follow tokio's paused test clock (`tokio::time::pause`).

use std::time::Duration;

/// Sleeps shorter than this use tokio's timer: they sit in its finest level and wake once.
pub(crate) const SHORT: Duration = Duration::from_millis(64);

/// Sleeps `d`.
pub(crate) async fn sleep(d: Duration) {
    let deadline = tokio::time::Instant::now() + d;
    #[cfg(target_os = "linux")]
    if d >= SHORT {
        match timerfd::sleep(d).await {
            Ok(()) => return,
            Err(e) => tracing::debug!(error = %e, "no timerfd: tokio's timer is used"),
        }
    }
    tokio::time::sleep_until(deadline).await
}

#[cfg(target_os = "linux")]
mod timerfd {
    use std::io;
    use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
    use std::time::Duration;

    use tokio::io::unix::AsyncFd;
    use tokio::io::Interest;

    /// The longest sleep one timer is armed for (a longer one wakes early, once a year).
    const MAX_ARM: Duration = Duration::from_secs(365 * 86_400);

    fn check(result: libc::c_int) -> io::Result<libc::c_int> {
        if result < 0 {
            Err(io::Error::last_os_error())
        } else {
            Ok(result)
        }
    }

    /// Sleeps `d` (not zero) on a new monotonic timerfd, closed when done or dropped.
    pub(super) async fn sleep(d: Duration) -> io::Result<()> {
        let d = d.min(MAX_ARM).max(Duration::from_nanos(1));
        // SAFETY: a plain system call with constant arguments; the result is checked.
        let fd = check(unsafe {
            libc::timerfd_create(libc::CLOCK_MONOTONIC, libc::TFD_NONBLOCK | libc::TFD_CLOEXEC)
        })?;
        // SAFETY: `fd` was just created and is owned by nothing else; the `OwnedFd` keeps it
        // open, and it is the same descriptor, for as long as the `AsyncFd` holds it.
        let fd = unsafe { AsyncFd::register_with_interest(OwnedFd::from_raw_fd(fd), Interest::READABLE)? };
        let spec = libc::itimerspec {
            it_interval: libc::timespec {
                tv_sec: 0,
                tv_nsec: 0,
            },
            it_value: libc::timespec {
                tv_sec: d.as_secs() as libc::time_t,
                tv_nsec: d.subsec_nanos() as libc::c_long,
            },
        };
        // SAFETY: `fd` is a live timerfd; `spec` is a valid itimerspec; the old value is not
        // asked for (null).
        check(unsafe { libc::timerfd_settime(fd.as_raw_fd(), 0, &spec, std::ptr::null_mut()) })?;
        loop {
            let mut ready = fd.readable().await?;
            let read = ready.try_io(|fd| {
                let mut expirations = [0u8; 8];
                // SAFETY: reads at most 8 bytes into an 8-byte buffer from a live descriptor.
                let n = unsafe { libc::read(fd.as_raw_fd(), expirations.as_mut_ptr().cast(), 8) };
                if n < 0 {
                    Err(io::Error::last_os_error())
                } else {
                    Ok(())
                }
            });
            match read {
                Ok(result) => return result,
                Err(_would_block) => continue,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use super::*;

    /// A sleep never ends before its time, long (a timer) or short (tokio's), and can be
    /// dropped half-way (its timer is closed) without disturbing the next one.
    #[tokio::test(flavor = "current_thread")]
    async fn sleeps_last_at_least_their_time() {
        for d in [Duration::from_millis(5), SHORT, Duration::from_millis(150)] {
            let start = Instant::now();
            sleep(d).await;
            assert!(start.elapsed() >= d, "{d:?} ended early");
        }
        let cut = tokio::time::timeout(Duration::from_millis(20), sleep(Duration::from_secs(3600))).await;
        assert!(cut.is_err(), "an hour's sleep cannot be over");
        let start = Instant::now();
        sleep(Duration::from_millis(100)).await;
        assert!(start.elapsed() >= Duration::from_millis(100));
    }
}
