//! `rate-limit`: calls per subscription in a sliding window.
//!
//! The rate-limit policy reference defines `renewal-period` as "the length in seconds of
//! the sliding window during which the number of allowed requests should not exceed the
//! value specified in `calls`": every call is remembered until it is `renewal-period`
//! old, and a call is allowed while fewer than `calls` are remembered. (APIM adds that its
//! distributed counting is never exact.)
//!
//! Memory: calls are remembered in slots of `renewal-period / SLOTS_PER_PERIOD`, each
//! kept until its last call is `renewal-period` old, so a counter holds at most about
//! `SLOTS_PER_PERIOD` slots whatever `calls` and the request rate are. (One timestamp per
//! call grew with rate x period: 4 MiB at 4,000 calls/s and a 60 s window in
//! `cargo xtask soak`.) A call is thus remembered at most one slot (0.1% of the period)
//! longer than exactly `renewal-period`: never more than `calls` are allowed in any
//! window of that length.

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

/// The outcome of counting one call.
#[derive(Debug, PartialEq, Eq)]
pub enum Count {
    /// Allowed; calls left in the window after this one.
    Allowed { remaining: u64 },
    /// Refused; whole seconds until the oldest call leaves the window.
    Limited { retry_after_secs: u64 },
}

/// Slots per renewal period: the bound on a counter's memory, and (inverted) how much
/// longer than the period a call may be remembered.
pub const SLOTS_PER_PERIOD: u32 = 1000;

/// Accepted calls that arrived within one slot's width of `first`.
struct Slot {
    first: Instant,
    last: Instant,
    calls: u64,
}

/// One counter's remembered calls, oldest slot first, and their total.
#[derive(Default)]
struct Window {
    slots: VecDeque<Slot>,
    total: u64,
}

/// Accepted calls per counter: API, then subscription (two levels, so counting a call to a
/// known counter allocates nothing).
#[derive(Default)]
pub struct SlidingWindows {
    windows: HashMap<String, HashMap<String, Window>>,
}

impl SlidingWindows {
    pub fn count(&mut self, counter: (&str, &str), calls: u64, period: Duration) -> Count {
        self.count_at(counter, calls, period, Instant::now())
    }

    /// Slots held across all counters (what the memory bound is about).
    #[cfg(test)]
    fn slots(&self) -> usize {
        self.windows
            .values()
            .flat_map(HashMap::values)
            .map(|w| w.slots.len())
            .sum()
    }

    /// The counter's window, created on its first call.
    fn window(&mut self, api: &str, subscription: &str) -> &mut Window {
        if !self.windows.contains_key(api) {
            self.windows.insert(api.to_owned(), HashMap::new());
        }
        let per_api = self.windows.get_mut(api).expect("inserted above");
        if !per_api.contains_key(subscription) {
            per_api.insert(subscription.to_owned(), Window::default());
        }
        per_api.get_mut(subscription).expect("inserted above")
    }

    fn count_at(
        &mut self,
        (api, subscription): (&str, &str),
        calls: u64,
        period: Duration,
        now: Instant,
    ) -> Count {
        let window = self.window(api, subscription);
        while let Some(oldest) = window.slots.front() {
            if now.duration_since(oldest.last) < period {
                break;
            }
            window.total -= oldest.calls;
            window.slots.pop_front();
        }
        if window.total >= calls {
            let oldest = window.slots.front().expect("calls is at least 1");
            let left = period.saturating_sub(now.duration_since(oldest.last));
            return Count::Limited {
                retry_after_secs: (left.as_secs() + u64::from(left.subsec_nanos() > 0)).max(1),
            };
        }
        let width = period / SLOTS_PER_PERIOD;
        match window.slots.back_mut() {
            Some(newest) if now.duration_since(newest.first) < width => {
                newest.last = newest.last.max(now);
                newest.calls += 1;
            }
            _ => window.slots.push_back(Slot {
                first: now,
                last: now,
                calls: 1,
            }),
        }
        window.total += 1;
        Count::Allowed {
            remaining: calls - window.total,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_window_slides_instead_of_resetting() {
        let mut windows = SlidingWindows::default();
        let period = Duration::from_secs(10);
        let t0 = Instant::now();
        let at = |s: u64| t0 + Duration::from_secs(s);
        let c = ("api", "sub");
        // Two calls at 0 s, one at 6 s: the limit of 3 is reached.
        assert_eq!(
            windows.count_at(c, 3, period, at(0)),
            Count::Allowed { remaining: 2 }
        );
        assert_eq!(
            windows.count_at(c, 3, period, at(0)),
            Count::Allowed { remaining: 1 }
        );
        assert_eq!(
            windows.count_at(c, 3, period, at(6)),
            Count::Allowed { remaining: 0 }
        );
        assert_eq!(
            windows.count_at(c, 3, period, at(7)),
            Count::Limited {
                retry_after_secs: 3
            }
        );
        // At 10 s the two oldest leave; a fixed window starting at 0 would also reset here,
        // but at 12 s a fixed window would allow three more while the sliding one allows
        // two (the call at 6 s is still in it).
        assert_eq!(
            windows.count_at(c, 3, period, at(12)),
            Count::Allowed { remaining: 1 }
        );
        assert_eq!(
            windows.count_at(c, 3, period, at(12)),
            Count::Allowed { remaining: 0 }
        );
        assert_eq!(
            windows.count_at(c, 3, period, at(12)),
            Count::Limited {
                retry_after_secs: 4
            }
        );
        // Another subscription has its own window.
        assert_eq!(
            windows.count_at(("api", "other"), 3, period, at(12)),
            Count::Allowed { remaining: 2 }
        );
    }

    /// A limit far above the traffic (as `cargo xtask soak` sets it) at 10,000 calls/s
    /// for two periods: the counter holds at most about `SLOTS_PER_PERIOD` slots, not one
    /// entry per call (600,000 here).
    #[test]
    fn memory_is_bounded_by_slots_not_by_calls() {
        let mut windows = SlidingWindows::default();
        let period = Duration::from_secs(60);
        let t0 = Instant::now();
        for i in 0..1_200_000u64 {
            let now = t0 + Duration::from_micros(100 * i);
            let count = windows.count_at(("api", "local"), 1_000_000_000, period, now);
            assert!(matches!(count, Count::Allowed { .. }));
        }
        let slots = windows.slots();
        assert!(
            slots <= SLOTS_PER_PERIOD as usize + 2,
            "{slots} slots for one counter"
        );
        // Still counting exactly: the last period's 600,000 calls are remembered.
        assert_eq!(
            windows.count_at(
                ("api", "local"),
                600_000,
                period,
                t0 + Duration::from_secs(120)
            ),
            Count::Limited {
                retry_after_secs: 1
            }
        );
    }

    /// Calls within one slot are forgotten together, when the slot's last call is a period
    /// old: never earlier than exact, at most one slot width later.
    #[test]
    fn a_slot_is_forgotten_when_its_last_call_is_a_period_old() {
        let mut windows = SlidingWindows::default();
        let period = Duration::from_secs(1);
        let width = period / SLOTS_PER_PERIOD;
        let t0 = Instant::now();
        let c = ("api", "sub");
        assert_eq!(
            windows.count_at(c, 2, period, t0),
            Count::Allowed { remaining: 1 }
        );
        // Same slot, half a width later.
        assert_eq!(
            windows.count_at(c, 2, period, t0 + width / 2),
            Count::Allowed { remaining: 0 }
        );
        // One period after the first call, the second is still in the window.
        assert!(matches!(
            windows.count_at(c, 2, period, t0 + period),
            Count::Limited { .. }
        ));
        // One period after the second call, both have left.
        assert_eq!(
            windows.count_at(c, 2, period, t0 + period + width / 2),
            Count::Allowed { remaining: 1 }
        );
    }
}
