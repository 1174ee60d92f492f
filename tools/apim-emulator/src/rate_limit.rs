//! `rate-limit`: calls per subscription in a sliding window.
//!
//! The rate-limit policy reference defines `renewal-period` as "the length in seconds of
//! the sliding window during which the number of allowed requests should not exceed the
//! value specified in `calls`": every call is remembered until it is `renewal-period`
//! old, and a call is allowed while fewer than `calls` are remembered. (APIM adds that its
//! distributed counting is never exact; the emulator's is.)

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

/// Accepted calls per counter (API and subscription), oldest first.
#[derive(Default)]
pub struct SlidingWindows {
    calls: HashMap<(String, String), VecDeque<Instant>>,
}

impl SlidingWindows {
    pub fn count(&mut self, counter: (&str, &str), calls: u64, period: Duration) -> Count {
        self.count_at(counter, calls, period, Instant::now())
    }

    fn count_at(
        &mut self,
        (api, subscription): (&str, &str),
        calls: u64,
        period: Duration,
        now: Instant,
    ) -> Count {
        let window = self
            .calls
            .entry((api.to_owned(), subscription.to_owned()))
            .or_default();
        while window
            .front()
            .is_some_and(|&oldest| now.duration_since(oldest) >= period)
        {
            window.pop_front();
        }
        if window.len() as u64 >= calls {
            let oldest = *window.front().expect("calls is at least 1");
            let left = period.saturating_sub(now.duration_since(oldest));
            return Count::Limited {
                retry_after_secs: (left.as_secs() + u64::from(left.subsec_nanos() > 0)).max(1),
            };
        }
        window.push_back(now);
        Count::Allowed {
            remaining: calls - window.len() as u64,
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
}
