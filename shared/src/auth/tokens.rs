//! Access tokens: HS256 JWTs carrying who the user is and what they own.

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation, decode, encode};
use serde::{Deserialize, Serialize};

use crate::config::TokenConfig;
use crate::error::Error;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    pub sub: String,
    pub email: String,
    pub pro: bool,
    pub plan: String,
    pub iss: String,
    pub aud: String,
    pub iat: i64,
    pub exp: i64,
    /// Informational for the frontend; never trusted (administrators are read at request time).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    /// The user's token version when it was made: a newer one revokes it.
    #[serde(default)]
    pub tv: i64,
    /// Made by another issuer (NextAuth, an OpenID provider) and mapped to this user: it has no
    /// version, so revocation goes by when it was issued.
    #[serde(skip)]
    pub external: bool,
}

impl Claims {
    /// The token as the user's plans check it.
    pub fn presented(&self) -> super::presented::Presented {
        let version = (!self.external).then_some(self.tv);
        super::presented::Presented { user_id: self.sub.clone(), version, issued_at: self.iat }
    }
}

/// Tolerated difference between the clocks of the instance that minted and the one verifying.
pub const CLOCK_SKEW_SECS: i64 = 5;

#[derive(Clone)]
pub struct Tokens {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    issuer: String,
    audience: String,
    lifetime_secs: i64,
}

/// Who a token is for and what it grants, as `mint` writes it.
pub struct Subject<'a> {
    pub user_id: &'a str,
    pub email: &'a str,
    pub plan: &'a str,
    pub pro: bool,
    pub admin: bool,
    pub token_version: i64,
}

impl Tokens {
    pub fn new(config: &TokenConfig) -> Self {
        let secret = config.secret.expose().as_bytes();
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_issuer(&[&config.issuer]);
        validation.set_audience(&[&config.audience]);
        validation.set_required_spec_claims(&["exp", "iat", "iss", "aud", "sub"]);
        // Expiry is checked against the app's clock in `verify`, so tests can move time.
        validation.validate_exp = false;
        Tokens {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            validation,
            issuer: config.issuer.clone(),
            audience: config.audience.clone(),
            lifetime_secs: config.lifetime_hours * 3600,
        }
    }

    pub fn mint(&self, subject: &Subject, now: i64) -> Result<(String, Claims), Error> {
        let claims = Claims {
            sub: subject.user_id.to_string(),
            email: subject.email.to_string(),
            pro: subject.pro,
            plan: subject.plan.to_string(),
            iss: self.issuer.clone(),
            aud: self.audience.clone(),
            iat: now,
            exp: now + self.lifetime_secs,
            role: subject.admin.then(|| "admin".to_string()),
            tv: subject.token_version,
            external: false,
        };
        let token = encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .map_err(|e| Error::internal(format!("signing a token: {e}")))?;
        Ok((token, claims))
    }

    /// Verifies signature, algorithm (HS256 only), issuer, audience, and expiry at `now`.
    pub fn verify(&self, token: &str, now: i64) -> Result<Claims, Error> {
        let claims = decode::<Claims>(token, &self.decoding, &self.validation)
            .map(|data| data.claims)
            .map_err(|_| Error::unauthorized("invalid_token", "the access token is not valid"))?;
        if now >= claims.exp + CLOCK_SKEW_SECS {
            return Err(Error::unauthorized("token_expired", "the access token has expired"));
        }
        Ok(claims)
    }
}

#[cfg(test)]
mod tests {
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;

    use super::*;
    use crate::config::Secret;

    fn config(secret: &str, iss: &str, aud: &str) -> TokenConfig {
        TokenConfig {
            secret: Secret::new(secret),
            issuer: iss.into(),
            audience: aud.into(),
            lifetime_hours: 1,
            entitlement_keys: None,
            entitlement_lifetime_secs: 900,
            nextauth_secret: None,
            nextauth_salt: String::new(),
            oidc: vec![],
        }
    }

    fn tokens() -> Tokens {
        Tokens::new(&config("0123456789abcdef0123456789abcdef", "tollgate", "app"))
    }

    fn now() -> i64 {
        crate::clock::Clock::now(&crate::clock::SystemClock)
    }

    fn subject() -> Subject<'static> {
        Subject { user_id: "usr_1", email: "a@b.co", plan: "pro", pro: true, admin: false, token_version: 3 }
    }

    fn code(result: Result<Claims, Error>) -> &'static str {
        result.unwrap_err().code()
    }

    #[test]
    fn a_minted_token_verifies_with_its_claims() {
        let (token, claims) = tokens().mint(&subject(), now()).unwrap();
        let back = tokens().verify(&token, now()).unwrap();
        assert_eq!(back, claims);
        assert_eq!(back.exp - back.iat, 3600);
        assert_eq!(back.tv, 3);
        assert!(back.pro);
    }

    #[test]
    fn alg_none_is_rejected() {
        let (token, _) = tokens().mint(&subject(), now()).unwrap();
        let payload = token.split('.').nth(1).unwrap();
        let header = B64.encode(br#"{"alg":"none","typ":"JWT"}"#);
        assert_eq!(code(tokens().verify(&format!("{header}.{payload}."), now())), "invalid_token");
    }

    #[test]
    fn another_algorithm_is_rejected() {
        let (_, claims) = tokens().mint(&subject(), now()).unwrap();
        let key = EncodingKey::from_secret(b"0123456789abcdef0123456789abcdef");
        let hs512 = encode(&Header::new(Algorithm::HS512), &claims, &key).unwrap();
        assert_eq!(code(tokens().verify(&hs512, now())), "invalid_token");
    }

    #[test]
    fn a_tampered_token_is_rejected() {
        let (token, _) = tokens().mint(&Subject { pro: false, ..subject() }, now()).unwrap();
        let mut parts: Vec<String> = token.split('.').map(str::to_string).collect();
        let mut claims: serde_json::Value = serde_json::from_slice(&B64.decode(&parts[1]).unwrap()).unwrap();
        claims["pro"] = true.into();
        parts[1] = B64.encode(serde_json::to_vec(&claims).unwrap());
        assert_eq!(code(tokens().verify(&parts.join("."), now())), "invalid_token");
    }

    #[test]
    fn an_expired_token_is_rejected() {
        let (token, _) = tokens().mint(&subject(), now() - 7200).unwrap();
        assert_eq!(code(tokens().verify(&token, now())), "token_expired");
    }

    #[test]
    fn wrong_issuer_or_audience_is_rejected() {
        for (iss, aud) in [("someone-else", "app"), ("tollgate", "another-app")] {
            let other = Tokens::new(&config("0123456789abcdef0123456789abcdef", iss, aud));
            let (token, _) = other.mint(&subject(), now()).unwrap();
            assert_eq!(code(tokens().verify(&token, now())), "invalid_token", "{iss} {aud}");
        }
    }

    #[test]
    fn another_secret_is_rejected() {
        let other = Tokens::new(&config("ffffffffffffffffffffffffffffffff", "tollgate", "app"));
        let (token, _) = other.mint(&subject(), now()).unwrap();
        assert_eq!(code(tokens().verify(&token, now())), "invalid_token");
    }

    #[test]
    fn a_token_without_exp_is_rejected() {
        let claims = serde_json::json!({"sub":"usr_1","email":"a@b.co","pro":true,"plan":"pro","iss":"tollgate","aud":"app","iat":now()});
        let key = EncodingKey::from_secret(b"0123456789abcdef0123456789abcdef");
        let token = encode(&Header::new(Algorithm::HS256), &claims, &key).unwrap();
        assert_eq!(code(tokens().verify(&token, now())), "invalid_token");
    }

    #[test]
    fn garbage_is_rejected() {
        for t in ["", "abc", "a.b.c", "..."] {
            assert_eq!(code(tokens().verify(t, now())), "invalid_token");
        }
    }
}
