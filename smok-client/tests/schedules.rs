//! proptest of the schedules' timetable ([`Periodic`]) against a pure clock: the time since
//! the client's start is the only input, so every property holds whatever the host's uptime.

use std::time::Duration;

use proptest::prelude::*;
use smok_client::schedule::Periodic;

/// One step of a simulated schedule: how far the clock moves, whether the call succeeds, the
/// jitter draw and the backoff after a failure.
#[derive(Clone, Debug)]
struct Step {
    advance_ms: u64,
    ok: bool,
    draw: f64,
    backoff_ms: u64,
}

fn step() -> impl Strategy<Value = Step> {
    (0u64..5_000, any::<bool>(), 0.0f64..1.0, 1u64..20_000).prop_map(|(advance_ms, ok, draw, backoff_ms)| {
        Step {
            advance_ms,
            ok,
            draw,
            backoff_ms,
        }
    })
}

proptest! {
    /// Due at the client's start; after a success due again within [period·(1−jitter), period];
    /// after a failure due after the backoff, never later than a period; never due before the
    /// time it announced.
    #[test]
    fn timetable_bounds(
        period_ms in 1u64..100_000,
        jitter in 0.0f64..=1.0,
        steps in proptest::collection::vec(step(), 1..50),
    ) {
        let period = Duration::from_millis(period_ms);
        let mut p = Periodic::new(period, jitter);
        prop_assert!(p.is_due(Duration::ZERO));
        let mut now = Duration::ZERO;
        for s in steps {
            now += Duration::from_millis(s.advance_ms);
            if !p.is_due(now) {
                prop_assert!(p.wait(now) > Duration::ZERO);
                prop_assert!(!p.is_due(now + p.wait(now) - Duration::from_nanos(1)));
                prop_assert!(p.is_due(now + p.wait(now)));
                continue;
            }
            prop_assert_eq!(p.wait(now), Duration::ZERO);
            if s.ok {
                p.done(now, s.draw);
                let next = p.wait(now);
                prop_assert!(next <= period, "{next:?} > {period:?}");
                prop_assert!(next.as_secs_f64() >= period.as_secs_f64() * (1.0 - jitter) - 1e-6);
            } else {
                p.failed(now, Duration::from_millis(s.backoff_ms));
                prop_assert_eq!(p.wait(now), Duration::from_millis(s.backoff_ms).min(period));
            }
        }
    }

    /// A schedule that always succeeds runs at most once per jittered period and, polled
    /// whenever it is due, at least once per period.
    #[test]
    fn successful_runs_are_spaced(
        period_ms in 10u64..10_000,
        jitter in 0.0f64..0.5,
        draws in proptest::collection::vec(0.0f64..1.0, 1..100),
    ) {
        let period = Duration::from_millis(period_ms);
        let mut p = Periodic::new(period, jitter);
        let mut now = Duration::ZERO;
        let mut runs = Vec::new();
        for draw in draws {
            now += p.wait(now);
            prop_assert!(p.is_due(now));
            runs.push(now);
            p.done(now, draw);
        }
        prop_assert_eq!(runs[0], Duration::ZERO, "the first run at the client's start");
        for w in runs.windows(2) {
            let gap = (w[1] - w[0]).as_secs_f64();
            prop_assert!(gap <= period.as_secs_f64() + 1e-6);
            prop_assert!(gap >= period.as_secs_f64() * (1.0 - jitter) - 1e-6);
        }
    }
}
