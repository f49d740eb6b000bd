//! Request limits on every public route, per address (an IPv6 address counts as its /64) and per
//! signed-in user, configured in one place (`RATE_LIMIT_REQUESTS_IP`, `RATE_LIMIT_REQUESTS_USER`,
//! per minute). Each instance keeps its own counts in memory (governor's GCRA): it costs no
//! store call, and a client's burst meets the limit of the instance that serves it; the API's
//! route throttles bound the whole. The costly routes add limits kept in the store on top
//! (sign-in codes per email and address, checkouts per address and user).

use std::num::NonZeroU32;
use std::sync::Arc;

use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

use crate::error::Error;

/// Routes that are not the public API's: Stripe's webhook (signed, and limited by its reserved
/// concurrency) and the health check.
pub const UNLIMITED: &[&str] = &["/api/stripe/webhook", "/healthz"];

/// Past this many tracked keys, keys whose limit has fully recovered are dropped.
const MAX_KEYS: usize = 50_000;

#[derive(Clone)]
pub struct Limits {
    by_address: Arc<DefaultKeyedRateLimiter<String>>,
    by_user: Arc<DefaultKeyedRateLimiter<String>>,
}

fn per_minute(n: u32) -> Quota {
    Quota::per_minute(NonZeroU32::new(n.max(1)).unwrap_or(NonZeroU32::MIN))
}

impl Limits {
    pub fn new(per_address: u32, per_user: u32) -> Self {
        Limits {
            by_address: Arc::new(RateLimiter::keyed(per_minute(per_address))),
            by_user: Arc::new(RateLimiter::keyed(per_minute(per_user))),
        }
    }

    /// One request from `address`; refused with how long to wait.
    pub fn check_address(&self, address: &str) -> Result<(), Error> {
        check(&self.by_address, super::rate_subject(address))
    }

    /// One request from a signed-in `user`.
    pub fn check_user(&self, user: &str) -> Result<(), Error> {
        check(&self.by_user, user.to_string())
    }

    /// One request from `address` (and `user`, when signed in).
    pub fn check(&self, address: &str, user: Option<&str>) -> Result<(), Error> {
        self.check_address(address)?;
        user.map_or(Ok(()), |user| self.check_user(user))
    }
}

fn check(limiter: &DefaultKeyedRateLimiter<String>, key: String) -> Result<(), Error> {
    if limiter.len() > MAX_KEYS {
        limiter.retain_recent();
    }
    limiter.check_key(&key).map_err(|not_until| {
        use governor::clock::{Clock, DefaultClock};
        let wait = not_until.wait_time_from(DefaultClock::default().now());
        Error::RateLimited { retry_after_secs: wait.as_secs() + u64::from(wait.subsec_nanos() > 0) }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_address_and_user_has_its_own_allowance() {
        let limits = Limits::new(2, 3);
        assert!(limits.check("198.51.100.1", None).is_ok());
        assert!(limits.check("198.51.100.1", None).is_ok());
        let Err(Error::RateLimited { retry_after_secs }) = limits.check("198.51.100.1", None) else {
            panic!("the third request in a minute is refused")
        };
        assert!((1..=30).contains(&retry_after_secs), "{retry_after_secs}");
        assert!(limits.check("198.51.100.2", None).is_ok(), "another address is not limited");
        // One /64 is one subject; another /64 is another.
        assert!(limits.check("2001:db8:1:2::1", None).is_ok());
        assert!(limits.check("2001:db8:1:2::ffff", None).is_ok());
        assert!(limits.check("2001:db8:1:2:aaaa::1", None).is_err());
        assert!(limits.check("2001:db8:1:3::1", None).is_ok());
        // A user's allowance follows them across addresses.
        let limits = Limits::new(100, 2);
        assert!(limits.check("203.0.113.1", Some("usr_1")).is_ok());
        assert!(limits.check("203.0.113.2", Some("usr_1")).is_ok());
        assert!(limits.check("203.0.113.3", Some("usr_1")).is_err());
        assert!(limits.check("203.0.113.3", Some("usr_2")).is_ok());
    }
}
