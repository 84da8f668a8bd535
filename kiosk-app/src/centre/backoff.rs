//! Exponential back-off with jitter, so a hall full of terminals does not retry in step.

use std::time::Duration;

#[derive(Debug, Clone)]
pub struct Backoff {
    base: Duration,
    max: Duration,
    attempt: u32,
    state: u64,
}

impl Backoff {
    pub fn new(base: Duration, max: Duration, seed: u64) -> Self {
        Backoff {
            base,
            max,
            attempt: 0,
            state: seed | 1,
        }
    }

    /// The wait before the next try: half to all of `base × 2^attempt`, capped at `max`.
    pub fn next_delay(&mut self) -> Duration {
        // xorshift64*: deterministic per seed, which keeps tests reproducible.
        self.state ^= self.state >> 12;
        self.state ^= self.state << 25;
        self.state ^= self.state >> 27;
        let r = self.state.wrapping_mul(0x2545_F491_4F6C_DD1D);
        let ceiling = self
            .base
            .saturating_mul(1u32 << self.attempt.min(20))
            .min(self.max);
        self.attempt = self.attempt.saturating_add(1);
        let frac = 0.5 + (r >> 11) as f64 / (1u64 << 53) as f64 / 2.0;
        ceiling.mul_f64(frac)
    }

    pub fn reset(&mut self) {
        self.attempt = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_with_jitter_and_caps() {
        let mut b = Backoff::new(Duration::from_millis(100), Duration::from_secs(2), 42);
        let d: Vec<Duration> = (0..8).map(|_| b.next_delay()).collect();
        for (i, x) in d.iter().enumerate() {
            let ceiling = Duration::from_millis(100 * (1 << i)).min(Duration::from_secs(2));
            assert!(
                *x >= ceiling / 2 && *x <= ceiling,
                "attempt {i}: {x:?} outside {ceiling:?}"
            );
        }
        let mut other = Backoff::new(Duration::from_millis(100), Duration::from_secs(2), 7);
        assert_ne!(
            d,
            (0..8).map(|_| other.next_delay()).collect::<Vec<_>>(),
            "jitter differs per seed"
        );
        b.reset();
        assert!(b.next_delay() <= Duration::from_millis(100));
    }
}
