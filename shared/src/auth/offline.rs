//! Entitlement tokens anyone can verify offline: short-lived EdDSA (Ed25519) JWTs with a `kid`,
//! signed by the current key of a key set and checked against the public keys
//! `GET /.well-known/jwks.json` publishes.
//!
//! The key set is a JWK set (`ENTITLEMENT_KEYS`, a Secrets Manager secret in production): Ed25519
//! keys (`kty` OKP) with their private part `d`; exactly one without `retired_at` signs. A retired
//! key stays published until the tokens it signed have expired, so rotating never fails a token
//! that is still valid. `tollgate keys generate` and `tollgate keys rotate` write such sets.

use aws_lc_rs::encoding::AsBigEndian;
use aws_lc_rs::signature::{Ed25519KeyPair, KeyPair};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use jsonwebtoken::{Algorithm, EncodingKey, Header, encode};
use serde::{Deserialize, Serialize};
#[cfg(test)]
use serde_json::{Value, json};

use crate::error::Error;
use crate::http::api::{Jwk, Jwks};

/// One key as the set stores it (a private JWK, plus when it stopped signing).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StoredKey {
    pub kty: String,
    pub crv: String,
    pub kid: String,
    pub x: String,
    /// The private seed; a retired key may drop it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub d: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retired_at: Option<i64>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct StoredSet {
    keys: Vec<StoredKey>,
}

/// The set, ready to sign with and to publish.
#[derive(Clone)]
pub struct KeySet {
    kid: String,
    signing: EncodingKey,
    keys: Vec<StoredKey>,
}

impl std::fmt::Debug for KeySet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "KeySet {{ signing: {:?}, keys: {} }}", self.kid, self.keys.len())
    }
}

fn seed_and_public(key: &StoredKey) -> Result<(Vec<u8>, Vec<u8>), String> {
    let x = B64.decode(&key.x).map_err(|_| format!("key {:?}: x is not base64url", key.kid))?;
    let d = key.d.as_deref().ok_or_else(|| format!("key {:?} signs but has no private part d", key.kid))?;
    let d = B64.decode(d).map_err(|_| format!("key {:?}: d is not base64url", key.kid))?;
    Ok((d, x))
}

impl KeySet {
    /// Parses and checks a set: Ed25519 keys only, unique ids, exactly one that signs, and its
    /// private part matching its public one.
    pub fn parse(text: &str) -> Result<KeySet, String> {
        let set: StoredSet =
            serde_json::from_str(text).map_err(|e| format!("is not a JWK set of Ed25519 keys ({e})"))?;
        let mut seen = std::collections::BTreeSet::new();
        for key in &set.keys {
            if key.kty != "OKP" || key.crv != "Ed25519" {
                return Err(format!("key {:?} is not an Ed25519 key (kty OKP, crv Ed25519)", key.kid));
            }
            if key.kid.is_empty() || !seen.insert(key.kid.as_str()) {
                return Err(format!("key ids must be present and unique ({:?})", key.kid));
            }
            if B64.decode(&key.x).map(|x| x.len()) != Ok(32) {
                return Err(format!("key {:?}: x is not a 32-byte public key", key.kid));
            }
        }
        let mut current = set.keys.iter().filter(|k| k.retired_at.is_none());
        let (Some(signer), None) = (current.next(), current.next()) else {
            return Err("needs exactly one key without retired_at (the one that signs)".into());
        };
        let (seed, public) = seed_and_public(signer)?;
        let pair = Ed25519KeyPair::from_seed_and_public_key(&seed, &public)
            .map_err(|_| format!("key {:?}: d and x are not one key pair", signer.kid))?;
        let der = pair.to_pkcs8().map_err(|_| format!("key {:?} cannot be encoded", signer.kid))?;
        Ok(KeySet { kid: signer.kid.clone(), signing: EncodingKey::from_ed_der(der.as_ref()), keys: set.keys.clone() })
    }

    /// A new key, as a set's entry.
    pub fn new_key(kid: &str) -> StoredKey {
        let pair = Ed25519KeyPair::generate().expect("the system's random source works");
        let seed = pair.seed().expect("a generated key has a seed");
        StoredKey {
            kty: "OKP".into(),
            crv: "Ed25519".into(),
            kid: kid.to_string(),
            x: B64.encode(pair.public_key().as_ref()),
            d: Some(B64.encode(seed.as_be_bytes().expect("a seed has bytes").as_ref())),
            retired_at: None,
        }
    }

    /// A set of one new key (its JSON).
    pub fn generate(kid: &str) -> String {
        serde_json::to_string_pretty(&StoredSet { keys: vec![Self::new_key(kid)] }).expect("a set serializes")
    }

    /// The set with a new signing key: the old one retired `now` (kept, without its private part,
    /// until `forget_before`: keys retired before then signed only expired tokens and are dropped).
    pub fn rotate(text: &str, kid: &str, now: i64, forget_before: i64) -> Result<String, String> {
        Self::parse(text)?;
        let mut set: StoredSet = serde_json::from_str(text).map_err(|e| e.to_string())?;
        if set.keys.iter().any(|k| k.kid == kid) {
            return Err(format!("the set already has a key {kid:?}"));
        }
        set.keys.retain(|k| k.retired_at.is_none_or(|at| at >= forget_before));
        for key in &mut set.keys {
            if key.retired_at.is_none() {
                key.retired_at = Some(now);
            }
            key.d = None;
        }
        set.keys.insert(0, Self::new_key(kid));
        Ok(serde_json::to_string_pretty(&set).expect("a set serializes"))
    }

    /// The id of the key that signs.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The public keys a verifier needs at `now`: the signing key and every retired key whose
    /// tokens (`lifetime_secs` long) may not have expired yet.
    pub fn jwks(&self, now: i64, lifetime_secs: i64) -> Jwks {
        let keys = self
            .keys
            .iter()
            .filter(|k| k.retired_at.is_none_or(|at| at + lifetime_secs + super::tokens::CLOCK_SKEW_SECS > now))
            .map(|k| Jwk {
                kty: "OKP".into(),
                crv: "Ed25519".into(),
                x: k.x.clone(),
                kid: k.kid.clone(),
                alg: "EdDSA".into(),
                key_use: "sig".into(),
            })
            .collect();
        Jwks { keys }
    }

    pub fn sign(&self, claims: &impl Serialize) -> Result<String, Error> {
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = Some(self.kid.clone());
        encode(&header, claims, &self.signing)
            .map_err(|e| Error::internal(format!("signing an entitlement token: {e}")))
    }
}

#[cfg(test)]
mod tests {
    use jsonwebtoken::jwk::JwkSet;
    use jsonwebtoken::{DecodingKey, Validation, decode, decode_header};

    use super::*;

    fn verify(jwks: &Jwks, token: &str) -> Result<Value, String> {
        let set: JwkSet = serde_json::from_value(serde_json::to_value(jwks).unwrap()).unwrap();
        let kid = decode_header(token).map_err(|e| e.to_string())?.kid.ok_or("no kid")?;
        let jwk = set.find(&kid).ok_or("no such key published")?;
        let mut validation = Validation::new(Algorithm::EdDSA);
        validation.validate_exp = false;
        validation.required_spec_claims.clear();
        decode::<Value>(token, &DecodingKey::from_jwk(jwk).unwrap(), &validation)
            .map(|d| d.claims)
            .map_err(|e| e.to_string())
    }

    #[test]
    fn a_signed_token_verifies_against_the_published_keys() {
        let set = KeySet::parse(&KeySet::generate("k1")).unwrap();
        let token = set.sign(&json!({ "sub": "usr_1", "plan": "pro" })).unwrap();
        assert_eq!(verify(&set.jwks(0, 900), &token).unwrap()["plan"], "pro");
        assert_eq!(decode_header(&token).unwrap().alg, Algorithm::EdDSA);
        let other = KeySet::parse(&KeySet::generate("k1")).unwrap();
        assert!(verify(&other.jwks(0, 900), &token).is_err(), "another key with the same id does not verify it");
    }

    #[test]
    fn rotation_keeps_the_old_key_published_until_its_tokens_expire() {
        let first = KeySet::generate("k1");
        let old = KeySet::parse(&first).unwrap();
        let token = old.sign(&json!({ "sub": "usr_1" })).unwrap();
        let rotated = KeySet::rotate(&first, "k2", 1_000, 0).unwrap();
        assert!(!rotated.contains(old_private(&first).as_str()), "the retired key's private part is dropped");
        let new = KeySet::parse(&rotated).unwrap();
        assert_eq!(new.kid(), "k2");
        assert!(verify(&new.jwks(1_000 + 899, 900), &token).is_ok(), "still published while its tokens live");
        assert!(verify(&new.jwks(1_000 + 900 + 10, 900), &token).is_err(), "gone once they have expired");
        let again = KeySet::rotate(&rotated, "k3", 5_000, 4_000).unwrap();
        let kids: Vec<String> =
            serde_json::from_str::<StoredSet>(&again).unwrap().keys.into_iter().map(|k| k.kid).collect();
        assert_eq!(kids, ["k3", "k2"], "keys retired before forget_before are dropped");
        assert!(KeySet::rotate(&again, "k3", 6_000, 0).is_err(), "ids stay unique");
    }

    fn old_private(text: &str) -> String {
        serde_json::from_str::<StoredSet>(text).unwrap().keys[0].d.clone().unwrap()
    }

    #[test]
    fn bad_sets_are_refused_with_the_reason() {
        let good: Value = serde_json::from_str(&KeySet::generate("k1")).unwrap();
        let mut two = good.clone();
        two["keys"]
            .as_array_mut()
            .unwrap()
            .push(serde_json::from_str::<Value>(&KeySet::generate("k2")).unwrap()["keys"][0].clone());
        let mut mismatched = good.clone();
        mismatched["keys"][0]["x"] = two["keys"][1]["x"].clone();
        let mut rsa = good.clone();
        rsa["keys"][0]["kty"] = "RSA".into();
        for (bad, why) in [
            (json!("nope"), "JWK set"),
            (json!({ "keys": [] }), "exactly one"),
            (two, "exactly one"),
            (mismatched, "not one key pair"),
            (rsa, "not an Ed25519 key"),
        ] {
            let err = KeySet::parse(&bad.to_string()).unwrap_err();
            assert!(err.contains(why), "{err}");
            assert!(!err.contains(good["keys"][0]["d"].as_str().unwrap()), "no private key in an error");
        }
    }
}
