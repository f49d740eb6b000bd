//! Optimistic retries: a conditional write that lost to a concurrent one re-reads and tries
//! again, a bounded number of times, with a growing random pause after the second loss so that
//! contenders spread out.

use std::time::Duration;

use rand::Rng;

/// Counts attempts at one contended change.
pub struct Contention {
    attempt: u32,
    max: u32,
}

impl Contention {
    pub fn new(max: u32) -> Self {
        Contention { attempt: 0, max }
    }
    /// Whether another attempt may run (pausing first after the second loss); false when all
    /// `max` were used.
    pub async fn next_attempt(&mut self) -> bool {
        if self.attempt >= self.max {
            return false;
        }
        if self.attempt >= 2 {
            let cap = 2u64 << (self.attempt - 1).min(5);
            let wait = rand::rng().random_range(0..=cap);
            tokio::time::sleep(Duration::from_millis(wait)).await;
        }
        self.attempt += 1;
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn attempts_are_bounded_and_the_first_two_do_not_wait() {
        let mut retry = Contention::new(4);
        let start = tokio::time::Instant::now();
        assert!(retry.next_attempt().await && retry.next_attempt().await);
        assert_eq!(start.elapsed(), Duration::ZERO);
        assert!(retry.next_attempt().await && retry.next_attempt().await);
        assert!(!retry.next_attempt().await, "a fifth attempt of four");
    }
}
