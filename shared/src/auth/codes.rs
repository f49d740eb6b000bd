//! One-time sign-in codes: six digits from a CSPRNG, stored only as a keyed hash bound to the
//! email, compared in constant time.

use hmac::{Hmac, Mac};
use rand::Rng;
use sha2::Sha256;
use subtle::ConstantTimeEq;

/// How long a code is valid.
pub const CODE_TTL_SECS: i64 = 600;
/// The wrong attempt that burns a code.
pub const MAX_ATTEMPTS: i64 = 5;

/// A fresh code. `ThreadRng` is a CSPRNG (ChaCha) seeded from the operating system.
pub fn generate() -> String {
    format!("{:06}", rand::rng().random_range(0..1_000_000u32))
}

/// The key codes are hashed with, derived from the token secret so there is one secret to keep.
pub fn hashing_key(token_secret: &str) -> Vec<u8> {
    let mut mac = Hmac::<Sha256>::new_from_slice(token_secret.as_bytes()).expect("HMAC takes any key length");
    mac.update(b"tollgate sign-in codes v1");
    mac.finalize().into_bytes().to_vec()
}

pub fn hash(key: &[u8], email: &str, code: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(email.as_bytes());
    mac.update(b"\n");
    mac.update(code.as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

/// Constant-time comparison of an offered code with the stored hash.
pub fn matches(key: &[u8], email: &str, offered: &str, stored_hash: &str) -> bool {
    hash(key, email, offered).as_bytes().ct_eq(stored_hash.as_bytes()).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_six_digits() {
        for _ in 0..200 {
            let c = generate();
            assert_eq!(c.len(), 6);
            assert!(c.chars().all(|ch| ch.is_ascii_digit()));
        }
    }

    #[test]
    fn codes_vary() {
        let seen: std::collections::HashSet<String> = (0..50).map(|_| generate()).collect();
        assert!(seen.len() > 40);
    }

    #[test]
    fn hash_is_bound_to_key_email_and_code() {
        let key = hashing_key("secret");
        let h = hash(&key, "a@b.co", "123456");
        assert!(matches(&key, "a@b.co", "123456", &h));
        assert!(!matches(&key, "a@b.co", "123457", &h));
        assert!(!matches(&key, "c@b.co", "123456", &h));
        assert!(!matches(&hashing_key("other"), "a@b.co", "123456", &h));
        assert!(!h.contains("123456"));
    }
}
