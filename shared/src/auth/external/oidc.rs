//! OpenID Connect providers (Auth0, Cognito, Clerk, Supabase, ...): RS256, ES256 and EdDSA tokens
//! checked against the provider's JWKS, with its issuer and audience. A JWKS from a URL is fetched
//! on first use and kept; a token naming a key the kept set lacks (the provider rotated) fetches
//! it again, at most once per `MIN_REFRESH_SECS`, so a stream of made-up key ids cannot turn into
//! a stream of fetches; the set is also refreshed once it is `MAX_AGE_SECS` old.

use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation, decode, decode_header};
use serde::Deserialize;
use tokio::sync::Mutex;

use super::ExternalClaims;
use crate::error::Error;

/// The least time between two fetches of one provider's JWKS.
pub const MIN_REFRESH_SECS: i64 = 60;
/// How long a fetched JWKS is used before it is fetched again.
pub const MAX_AGE_SECS: i64 = 3600;
/// The algorithms a provider's tokens may use (never HS256: a public key is not a secret).
pub const ALGORITHMS: [Algorithm; 3] = [Algorithm::RS256, Algorithm::ES256, Algorithm::EdDSA];
const CLOCK_SKEW_SECS: i64 = 30;

/// Where a provider's keys come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeySource {
    Url(String),
    /// Read once at start.
    File(JwkSet),
}

pub struct Provider {
    pub issuer: String,
    pub audiences: Vec<String>,
    source: KeySource,
    kept: Mutex<Kept>,
    http: crate::outbound::HttpClient,
}

#[derive(Default)]
struct Kept {
    set: Option<JwkSet>,
    fetched_at: i64,
    tried_at: Option<i64>,
    fetches: u64,
}

#[derive(Deserialize)]
struct Payload {
    sub: String,
    email: Option<String>,
    #[serde(default)]
    email_verified: Option<VerifiedFlag>,
    iat: Option<i64>,
    exp: i64,
}

/// Providers write `email_verified` as a boolean, some (Cognito) as a string.
#[derive(Deserialize)]
#[serde(untagged)]
enum VerifiedFlag {
    Bool(bool),
    Text(String),
}

impl Provider {
    pub fn new(issuer: String, audiences: Vec<String>, source: KeySource, http: crate::outbound::HttpClient) -> Self {
        let kept = match &source {
            KeySource::File(set) => Kept { set: Some(set.clone()), fetched_at: i64::MAX, ..Kept::default() },
            KeySource::Url(_) => Kept::default(),
        };
        Provider { issuer, audiences, source, kept: Mutex::new(kept), http }
    }

    /// How many times the JWKS was fetched (for the tests of the refresh bound).
    pub async fn fetches(&self) -> u64 {
        self.kept.lock().await.fetches
    }

    /// The token's identity, checked: signature by a key of the provider's JWKS, algorithm,
    /// issuer, audience and expiry at `now`. 401 `invalid_token`/`token_expired`; 502 when the
    /// provider's keys cannot be fetched.
    pub async fn verify(&self, token: &str, now: i64) -> Result<ExternalClaims, Error> {
        let header = decode_header(token).map_err(|_| invalid())?;
        if !ALGORITHMS.contains(&header.alg) {
            return Err(invalid());
        }
        let key = self.key(header.kid.as_deref(), now).await?;
        let mut validation = Validation::new(header.alg);
        validation.set_issuer(&[&self.issuer]);
        validation.set_audience(&self.audiences);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        validation.validate_exp = false;
        let claims = decode::<Payload>(token, &key, &validation).map_err(|_| invalid())?.claims;
        if now >= claims.exp + CLOCK_SKEW_SECS {
            return Err(Error::unauthorized("token_expired", "the access token has expired"));
        }
        let verified = match claims.email_verified {
            Some(VerifiedFlag::Bool(verified)) => verified,
            Some(VerifiedFlag::Text(text)) => text == "true",
            None => false,
        };
        Ok(ExternalClaims {
            issuer: self.issuer.clone(),
            subject: claims.sub,
            email: claims.email,
            email_verified: verified,
            issued_at: claims.iat.unwrap_or(0),
            expires_at: claims.exp,
        })
    }

    /// The key `kid` names (a set of one key also serves a token naming none).
    async fn key(&self, kid: Option<&str>, now: i64) -> Result<DecodingKey, Error> {
        let mut kept = self.kept.lock().await;
        let stale = now - kept.fetched_at >= MAX_AGE_SECS;
        if (kept.set.as_ref().is_none_or(|set| find(set, kid).is_none()) || stale)
            && let KeySource::Url(url) = &self.source
            && kept.tried_at.is_none_or(|at| now - at >= MIN_REFRESH_SECS)
        {
            kept.tried_at = Some(now);
            kept.fetches += 1;
            match fetch(&self.http, url).await {
                Ok(set) => {
                    kept.set = Some(set);
                    kept.fetched_at = now;
                }
                // A kept set still serves while the provider is unreachable.
                Err(e) if kept.set.is_none() => return Err(e),
                Err(e) => tracing::warn!(issuer = %self.issuer, error = %e, "JWKS refresh failed; using the kept keys"),
            }
        }
        let jwk = kept.set.as_ref().and_then(|set| find(set, kid)).ok_or_else(invalid)?;
        DecodingKey::from_jwk(jwk).map_err(|_| invalid())
    }
}

fn find<'a>(set: &'a JwkSet, kid: Option<&str>) -> Option<&'a jsonwebtoken::jwk::Jwk> {
    match kid {
        Some(kid) => set.find(kid),
        None if set.keys.len() == 1 => set.keys.first(),
        None => None,
    }
}

async fn fetch(http: &crate::outbound::HttpClient, url: &str) -> Result<JwkSet, Error> {
    let request = ::http::Request::get(url)
        .body(aws_smithy_types::body::SdkBody::empty())
        .map_err(|e| keys_unavailable(format!("the JWKS address is not usable: {e}")))?;
    let (response, body) = http
        .send(request, std::time::Duration::from_secs(3))
        .await
        .map_err(|e| keys_unavailable(format!("fetching the JWKS failed: {e}")))?;
    if !response.status.is_success() {
        return Err(keys_unavailable(format!("fetching the JWKS failed: HTTP {}", response.status)));
    }
    serde_json::from_slice::<JwkSet>(&body).map_err(|e| keys_unavailable(format!("the JWKS is not a JWK set: {e}")))
}

fn keys_unavailable(message: String) -> Error {
    tracing::error!(%message, "identity provider keys unavailable");
    Error::Retry {
        code: "identity_provider_unavailable",
        message: "the identity provider's keys could not be fetched; retry".into(),
    }
}

fn invalid() -> Error {
    Error::unauthorized("invalid_token", "the access token is not valid")
}
