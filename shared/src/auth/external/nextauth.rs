//! NextAuth.js session tokens, checked with the app's `NEXTAUTH_SECRET`: NextAuth's default
//! encrypted form (JWE compact, `dir` + `A256GCM`, the key derived from the secret with HKDF-SHA256
//! as next-auth v4's `getDerivedEncryptionKey` does) and the signed form an app's custom `encode`
//! makes (HS256 JWS). The JWE is opened with aws-lc-rs's AES-GCM and HKDF, the crypto jsonwebtoken
//! already links; the header is checked before anything is decrypted.

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, Nonce, UnboundKey};
use aws_lc_rs::hkdf::{HKDF_SHA256, Salt};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use jsonwebtoken::{Algorithm, DecodingKey, Validation, decode};
use serde::Deserialize;

use super::ExternalClaims;

/// The identity namespace NextAuth's users live in.
pub const ISSUER: &str = "nextauth";

/// NextAuth's own tolerance (`jwtDecrypt`'s `clockTolerance: 15`).
const CLOCK_TOLERANCE_SECS: i64 = 15;

pub struct NextAuth {
    encryption_key: [u8; 32],
    signing: DecodingKey,
}

#[derive(Deserialize)]
struct Payload {
    sub: Option<String>,
    email: Option<String>,
    #[serde(default)]
    email_verified: Option<bool>,
    iat: Option<i64>,
    exp: Option<i64>,
}

#[derive(Deserialize)]
struct JweHeader {
    alg: String,
    enc: String,
    #[serde(default)]
    zip: Option<String>,
}

impl NextAuth {
    /// `salt` is next-auth v4's `encode` salt (empty unless the app sets one).
    pub fn new(secret: &str, salt: &str) -> Self {
        let info = match salt {
            "" => "NextAuth.js Generated Encryption Key".to_string(),
            salt => format!("NextAuth.js Generated Encryption Key ({salt})"),
        };
        let mut encryption_key = [0u8; 32];
        Salt::new(HKDF_SHA256, salt.as_bytes())
            .extract(secret.as_bytes())
            .expand(&[info.as_bytes()], Len32)
            .and_then(|okm| okm.fill(&mut encryption_key))
            .expect("32 bytes is a valid HKDF-SHA256 output length");
        NextAuth { encryption_key, signing: DecodingKey::from_secret(secret.as_bytes()) }
    }

    /// The token's identity if it is a NextAuth token made with this secret and unexpired at
    /// `now`; None if it is not one (another issuer's, or not made with this secret).
    pub fn verify(&self, token: &str, now: i64) -> Option<ExternalClaims> {
        let payload = match token.split('.').count() {
            5 => self.open(token)?,
            3 => self.check_signature(token)?,
            _ => return None,
        };
        let exp = payload.exp?;
        if now > exp + CLOCK_TOLERANCE_SECS {
            return None;
        }
        Some(ExternalClaims {
            issuer: ISSUER.to_string(),
            subject: payload.sub.filter(|s| !s.is_empty())?,
            email: payload.email,
            email_verified: payload.email_verified == Some(true),
            issued_at: payload.iat.unwrap_or(0),
            expires_at: exp,
        })
    }

    fn open(&self, token: &str) -> Option<Payload> {
        let mut parts = token.split('.');
        let (header_b64, key, iv, ciphertext, tag) =
            (parts.next()?, parts.next()?, parts.next()?, parts.next()?, parts.next()?);
        let header: JweHeader = serde_json::from_slice(&B64.decode(header_b64).ok()?).ok()?;
        if header.alg != "dir" || header.enc != "A256GCM" || header.zip.is_some() || !key.is_empty() {
            return None;
        }
        let nonce = Nonce::try_assume_unique_for_key(&B64.decode(iv).ok()?).ok()?;
        let mut sealed = B64.decode(ciphertext).ok()?;
        sealed.extend(B64.decode(tag).ok()?);
        let key = LessSafeKey::new(UnboundKey::new(&AES_256_GCM, &self.encryption_key).ok()?);
        let plain = key.open_in_place(nonce, Aad::from(header_b64.as_bytes()), &mut sealed).ok()?;
        serde_json::from_slice(plain).ok()
    }

    fn check_signature(&self, token: &str) -> Option<Payload> {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.validate_exp = false;
        validation.validate_aud = false;
        validation.set_required_spec_claims(&["exp", "sub"]);
        decode::<Payload>(token, &self.signing, &validation).ok().map(|d| d.claims)
    }
}

struct Len32;

impl aws_lc_rs::hkdf::KeyType for Len32 {
    fn len(&self) -> usize {
        32
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_key_is_derived_as_next_auth_derives_it() {
        // RFC 5869's construction with next-auth's info string; the real next-auth's tokens are
        // checked end to end in cli/tests/identity.rs.
        let a = NextAuth::new("secret", "");
        let b = NextAuth::new("secret", "");
        let salted = NextAuth::new("secret", "next-auth.session-token");
        assert_eq!(a.encryption_key, b.encryption_key);
        assert_ne!(a.encryption_key, salted.encryption_key);
        assert_ne!(a.encryption_key, NextAuth::new("other", "").encryption_key);
    }

    #[test]
    fn other_shapes_and_algorithms_are_not_nextauths() {
        let n = NextAuth::new("secret", "");
        let header = B64.encode(br#"{"alg":"RSA-OAEP","enc":"A256GCM"}"#);
        assert!(n.verify(&format!("{header}.a.b.c.d"), 0).is_none());
        assert!(n.verify("a.b", 0).is_none());
        assert!(n.verify("", 0).is_none());
        let none = format!("{}.{}.", B64.encode(br#"{"alg":"none"}"#), B64.encode(br#"{"sub":"u","exp":9}"#));
        assert!(n.verify(&none, 0).is_none());
    }
}
