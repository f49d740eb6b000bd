//! Other issuers' tokens Tollgate accepts in place of its own: NextAuth.js session tokens and
//! OpenID Connect providers' access or ID tokens. Each is checked here; who it names in Tollgate
//! is `domain::identities`' answer (by issuer and subject).

pub mod nextauth;
pub mod oidc;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;

use crate::config::TokenConfig;
use crate::error::Error;

/// What another issuer's verified token says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExternalClaims {
    /// `nextauth`, or the provider's issuer URL.
    pub issuer: String,
    pub subject: String,
    pub email: Option<String>,
    /// The token says the email is the user's (`email_verified: true`).
    pub email_verified: bool,
    pub issued_at: i64,
    pub expires_at: i64,
}

/// The issuers configured (none by default).
#[derive(Default)]
pub struct Issuers {
    nextauth: Option<nextauth::NextAuth>,
    providers: Vec<oidc::Provider>,
}

impl Issuers {
    pub fn new(config: &TokenConfig) -> Self {
        Issuers {
            nextauth: config
                .nextauth_secret
                .as_ref()
                .map(|s| nextauth::NextAuth::new(s.expose(), &config.nextauth_salt)),
            providers: config
                .oidc
                .iter()
                // A client per provider (they are different hosts), and none where there is none:
                // most apps configure no provider, and a function's start-up builds nothing for them.
                .map(|p| {
                    let http = crate::outbound::HttpClient::new();
                    oidc::Provider::new(p.issuer.clone(), p.audiences.clone(), p.keys.clone(), http)
                })
                .collect(),
        }
    }

    pub fn any(&self) -> bool {
        self.nextauth.is_some() || !self.providers.is_empty()
    }

    pub fn provider(&self, issuer: &str) -> Option<&oidc::Provider> {
        self.providers.iter().find(|p| p.issuer == issuer)
    }

    /// The token's identity when a configured issuer made it; None when none of them did (the
    /// caller then reports why Tollgate's own check refused it).
    pub async fn verify(&self, token: &str, now: i64) -> Result<Option<ExternalClaims>, Error> {
        if let Some(claims) = self.nextauth.as_ref().and_then(|n| n.verify(token, now)) {
            return Ok(Some(claims));
        }
        match unverified_issuer(token).and_then(|iss| self.provider(&iss)) {
            Some(provider) => provider.verify(token, now).await.map(Some),
            None => Ok(None),
        }
    }
}

/// The `iss` a signed token claims, read before any check, only to pick the provider whose keys
/// then check it.
fn unverified_issuer(token: &str) -> Option<String> {
    let payload = token.split('.').nth(1)?;
    let claims: serde_json::Value = serde_json::from_slice(&B64.decode(payload).ok()?).ok()?;
    claims.get("iss")?.as_str().map(str::to_string)
}
