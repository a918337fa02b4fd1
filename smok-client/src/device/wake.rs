//! [`Timer`] and [`sleep`]: sleeps that wake the process once, at their end.
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
//! A task that sleeps again and again keeps one [`Timer`]: its timerfd is made and registered
//! with the reactor once, and each sleep only re-arms it (one system call instead of five: no
//! `timerfd_create`, `epoll_ctl` add and delete, `close`). A sleep until the deadline the
//! timer is already armed for (one dropped before its end, begun again) does not touch it.
//!
//! Unlike tokio's sleep, it does not follow tokio's paused test clock (`tokio::time::pause`).

use std::time::Duration;

use tokio::time::Instant;

/// Sleeps shorter than this use tokio's timer: they sit in its finest level and wake once.
pub(crate) const SHORT: Duration = Duration::from_millis(64);

/// Sleeps `d` on a timer of its own.
pub(crate) async fn sleep(d: Duration) {
    Timer::default().sleep(d).await
}

/// A timer for the sleeps of one task, one after the other. It must stay on the runtime it
/// first slept on (a task's own state does).
#[derive(Debug, Default)]
pub(crate) struct Timer {
    #[cfg(target_os = "linux")]
    fd: Option<tokio::io::unix::AsyncFd<std::os::fd::OwnedFd>>,
    /// The deadline the timerfd is armed for, until a sleep sees it expire.
    armed: Option<Instant>,
}

impl Timer {
    /// Sleeps `d`.
    pub(crate) async fn sleep(&mut self, d: Duration) {
        self.sleep_until(Instant::now() + d).await
    }

    /// Sleeps until `deadline`. Cancel-safe: dropped before the end, the timer stays armed for
    /// `deadline`, and a later sleep until the same deadline just waits for it.
    pub(crate) async fn sleep_until(&mut self, deadline: Instant) {
        #[cfg(target_os = "linux")]
        {
            let left = deadline.saturating_duration_since(Instant::now());
            if left >= SHORT || self.armed == Some(deadline) {
                match self.timerfd_sleep(deadline, left).await {
                    Ok(()) => return,
                    Err(e) => {
                        tracing::debug!(error = %e, "no timerfd: tokio's timer is used");
                        self.fd = None;
                        self.armed = None;
                    }
                }
            }
        }
        tokio::time::sleep_until(deadline).await
    }

    #[cfg(target_os = "linux")]
    async fn timerfd_sleep(&mut self, deadline: Instant, left: Duration) -> std::io::Result<()> {
        let fd = match &mut self.fd {
            Some(fd) => fd,
            empty => empty.insert(timerfd::create()?),
        };
        if self.armed != Some(deadline) {
            self.armed = None;
            timerfd::arm(fd, left)?;
            self.armed = Some(deadline);
        }
        timerfd::expired(fd).await?;
        self.armed = None;
        Ok(())
    }
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

    /// A new monotonic timerfd, not armed, registered with the current runtime's reactor.
    pub(super) fn create() -> io::Result<AsyncFd<OwnedFd>> {
        // SAFETY: a plain system call with constant arguments; the result is checked.
        let fd = check(unsafe {
            libc::timerfd_create(libc::CLOCK_MONOTONIC, libc::TFD_NONBLOCK | libc::TFD_CLOEXEC)
        })?;
        // SAFETY: `fd` was just created and is owned by nothing else; the `OwnedFd` keeps it
        // open, and it is the same descriptor, for as long as the `AsyncFd` holds it.
        Ok(unsafe { AsyncFd::register_with_interest(OwnedFd::from_raw_fd(fd), Interest::READABLE)? })
    }

    /// Arms `fd` to expire once, `d` from now (at least a nanosecond: zero would disarm it).
    /// Re-arming clears an expiration not yet read.
    pub(super) fn arm(fd: &AsyncFd<OwnedFd>, d: Duration) -> io::Result<()> {
        let d = d.min(MAX_ARM).max(Duration::from_nanos(1));
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
        Ok(())
    }

    /// Waits until the armed `fd` expires, and reads the expiration.
    pub(super) async fn expired(fd: &AsyncFd<OwnedFd>) -> io::Result<()> {
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

    /// One timer sleeps again and again, long and short, never ending a sleep early.
    #[tokio::test(flavor = "current_thread")]
    async fn one_timer_sleeps_again_and_again() {
        let mut timer = Timer::default();
        for d in [
            Duration::from_millis(150),
            Duration::from_millis(5),
            Duration::from_millis(100),
        ] {
            let start = Instant::now();
            timer.sleep(d).await;
            assert!(start.elapsed() >= d, "{d:?} ended early");
        }
    }

    /// A sleep dropped half-way leaves its deadline armed: a sleep until the same deadline
    /// waits for it; one until another deadline is not ended early by the first's
    /// expiration, even when that expired unread in between.
    #[tokio::test(flavor = "current_thread")]
    async fn a_dropped_sleep_leaves_its_deadline_armed() {
        let mut timer = Timer::default();
        let deadline = tokio::time::Instant::now() + Duration::from_millis(150);
        let cut = tokio::time::timeout(Duration::from_millis(20), timer.sleep_until(deadline)).await;
        assert!(cut.is_err(), "150 ms cannot be over after 20 ms");
        timer.sleep_until(deadline).await;
        assert!(
            tokio::time::Instant::now() >= deadline,
            "the same deadline ended early"
        );

        let cut =
            tokio::time::timeout(Duration::from_millis(20), timer.sleep(Duration::from_millis(100))).await;
        assert!(cut.is_err());
        std::thread::sleep(Duration::from_millis(150)); // the dropped sleep's timer expires, unread
        let start = Instant::now();
        timer.sleep(Duration::from_millis(100)).await;
        assert!(
            start.elapsed() >= Duration::from_millis(100),
            "a stale expiration ended the sleep"
        );
    }
}
