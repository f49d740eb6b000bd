//! Stripe-Signature verification: `t=<unix>,v1=<hex>[,v1=…][,v0=…]`, where each `v1` is
//! HMAC-SHA256 of `"{t}.{body}"` under an endpoint secret. Pure: `now` is an argument.

use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

type HmacSha256 = Hmac<Sha256>;

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("the Stripe-Signature header is missing")]
    MissingHeader,
    #[error("the Stripe-Signature header has no valid timestamp")]
    BadTimestamp,
    #[error("the Stripe-Signature header has no v1 signature")]
    NoSignature,
    #[error("the Stripe-Signature timestamp is outside the tolerance")]
    OutsideTolerance,
    #[error("no signature matches the payload")]
    Mismatch,
}

impl SignatureError {
    pub fn code(self) -> &'static str {
        match self {
            SignatureError::MissingHeader => "missing_signature",
            SignatureError::BadTimestamp | SignatureError::NoSignature => "malformed_signature",
            SignatureError::OutsideTolerance => "signature_expired",
            SignatureError::Mismatch => "invalid_signature",
        }
    }
}

/// Checks `header` against `payload` with any of `secrets` (several during secret rotation).
/// Any one matching `v1` is enough; `v0` and unknown schemes are ignored. Returns `t`.
pub fn verify<S: AsRef<str>>(
    payload: &[u8],
    header: Option<&str>,
    secrets: &[S],
    now: i64,
    tolerance_secs: i64,
) -> Result<i64, SignatureError> {
    let header = header.map(str::trim).filter(|h| !h.is_empty()).ok_or(SignatureError::MissingHeader)?;
    let mut timestamp = None;
    let mut signatures = Vec::new();
    for part in header.split(',') {
        let Some((scheme, value)) = part.trim().split_once('=') else {
            continue;
        };
        match scheme {
            "t" => timestamp = Some(value.parse::<i64>().map_err(|_| SignatureError::BadTimestamp)?),
            "v1" if !value.is_empty() => signatures.push(value),
            _ => {}
        }
    }
    let timestamp = timestamp.ok_or(SignatureError::BadTimestamp)?;
    if signatures.is_empty() {
        return Err(SignatureError::NoSignature);
    }
    // abs_diff: a timestamp of i64::MIN must not overflow the subtraction.
    if now.abs_diff(timestamp) > tolerance_secs.unsigned_abs() {
        return Err(SignatureError::OutsideTolerance);
    }
    // Each candidate decoded once, each secret's MAC computed once (not once per candidate),
    // over the timestamp and the body as they are (the body is not copied).
    let candidates: Vec<[u8; 32]> = signatures
        .iter()
        .filter_map(|candidate| {
            let mut bytes = [0u8; 32];
            hex::decode_to_slice(candidate, &mut bytes).ok().map(|()| bytes)
        })
        .collect();
    for secret in secrets {
        let expected = mac(secret.as_ref(), timestamp, payload).finalize().into_bytes();
        // Compared in constant time; which candidate matched tells nothing about the secret.
        if candidates.iter().any(|candidate| bool::from(candidate.as_slice().ct_eq(expected.as_slice()))) {
            return Ok(timestamp);
        }
    }
    Err(SignatureError::Mismatch)
}

/// HMAC-SHA256 of `"{timestamp}.{payload}"` under `secret`.
fn mac(secret: &str, timestamp: i64, payload: &[u8]) -> HmacSha256 {
    let mut mac = HmacSha256::new_from_slice(secret.as_bytes()).expect("HMAC takes any key length");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(payload);
    mac
}

/// The `v1` signature of a payload at a time, as Stripe computes it.
pub fn signature(payload: &[u8], secret: &str, timestamp: i64) -> String {
    hex::encode(mac(secret, timestamp, payload).finalize().into_bytes())
}

/// A complete Stripe-Signature header, for the CLI, the Stripe simulation and tests.
pub fn header(payload: &[u8], secret: &str, timestamp: i64) -> String {
    format!("t={timestamp},v1={}", signature(payload, secret, timestamp))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "whsec_test_secret";
    const NOW: i64 = 1_700_000_000;
    const BODY: &[u8] = br#"{"id":"evt_1","object":"event"}"#;

    fn check(header: Option<&str>) -> Result<i64, SignatureError> {
        verify(BODY, header, &[SECRET], NOW, 300)
    }

    #[test]
    fn a_valid_signature_is_accepted() {
        assert_eq!(check(Some(&header(BODY, SECRET, NOW))), Ok(NOW));
    }

    #[test]
    fn missing_and_empty_headers_are_rejected() {
        assert_eq!(check(None), Err(SignatureError::MissingHeader));
        assert_eq!(check(Some("")), Err(SignatureError::MissingHeader));
        assert_eq!(check(Some("   ")), Err(SignatureError::MissingHeader));
    }

    #[test]
    fn garbage_is_rejected() {
        assert_eq!(check(Some("garbage")), Err(SignatureError::BadTimestamp));
        assert_eq!(check(Some("\u{1F600},,,==")), Err(SignatureError::BadTimestamp));
    }

    #[test]
    fn timestamp_must_be_present_and_numeric() {
        let sig = signature(BODY, SECRET, NOW);
        assert_eq!(check(Some(&format!("v1={sig}"))), Err(SignatureError::BadTimestamp));
        assert_eq!(check(Some(&format!("t=abc,v1={sig}"))), Err(SignatureError::BadTimestamp));
    }

    #[test]
    fn v1_must_be_present_and_non_empty() {
        assert_eq!(check(Some(&format!("t={NOW}"))), Err(SignatureError::NoSignature));
        assert_eq!(check(Some(&format!("t={NOW},v1="))), Err(SignatureError::NoSignature));
    }

    #[test]
    fn a_valid_v0_alone_is_not_enough() {
        let sig = signature(BODY, SECRET, NOW);
        assert_eq!(check(Some(&format!("t={NOW},v0={sig}"))), Err(SignatureError::NoSignature));
    }

    #[test]
    fn the_wrong_secret_is_rejected() {
        assert_eq!(check(Some(&header(BODY, "whsec_other", NOW))), Err(SignatureError::Mismatch));
    }

    #[test]
    fn one_changed_byte_of_body_is_rejected() {
        let h = header(BODY, SECRET, NOW);
        let mut body = BODY.to_vec();
        body[5] ^= 1;
        assert_eq!(verify(&body, Some(&h), &[SECRET], NOW, 300), Err(SignatureError::Mismatch));
    }

    #[test]
    fn any_matching_v1_is_enough() {
        let good = signature(BODY, SECRET, NOW);
        let bad = signature(BODY, "whsec_old", NOW);
        assert_eq!(check(Some(&format!("t={NOW},v1={bad},v1={good}"))), Ok(NOW));
        assert_eq!(check(Some(&format!("t={NOW},v1=nothex,v1={good}"))), Ok(NOW));
        // Hex of the wrong length is no candidate, and the right one after it still matches.
        assert_eq!(check(Some(&format!("t={NOW},v1=abcd,v1={}", &good[..62]))), Err(SignatureError::Mismatch));
        assert_eq!(check(Some(&format!("t={NOW},v1=abcd,v1={good}00,v1={good}"))), Ok(NOW));
    }

    #[test]
    fn any_configured_secret_may_match() {
        let h = header(BODY, "whsec_new", NOW);
        assert_eq!(verify(BODY, Some(&h), &["whsec_old", "whsec_new"], NOW, 300), Ok(NOW));
    }

    #[test]
    fn timestamps_are_bounded_in_both_directions() {
        for (offset, ok) in [(-301, false), (-299, true), (-300, true), (299, true), (301, false)] {
            let t = NOW + offset;
            let result = check(Some(&header(BODY, SECRET, t)));
            assert_eq!(result.is_ok(), ok, "offset {offset}: {result:?}");
            if !ok {
                assert_eq!(result, Err(SignatureError::OutsideTolerance));
            }
        }
    }

    #[test]
    fn extreme_timestamps_are_outside_the_tolerance_not_an_overflow() {
        for t in [i64::MIN, i64::MIN + 1, i64::MAX, -1, 0] {
            assert_eq!(check(Some(&header(BODY, SECRET, t))), Err(SignatureError::OutsideTolerance), "t={t}");
        }
        assert_eq!(verify(BODY, Some(&header(BODY, SECRET, 0)), &[SECRET], i64::MAX, i64::MAX), Ok(0));
    }

    #[test]
    fn a_signature_for_another_timestamp_is_rejected() {
        let sig = signature(BODY, SECRET, NOW - 10);
        assert_eq!(check(Some(&format!("t={NOW},v1={sig}"))), Err(SignatureError::Mismatch));
    }
}
