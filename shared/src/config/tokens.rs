//! The tokens' configuration: Tollgate's own (`JWT_*`), the entitlement tokens' key set, and the
//! other issuers accepted in place of Tollgate (`NEXTAUTH_*`, `OIDC_ISSUERS`).

use super::{ConfigError, Secret, Source, issuers, number, problem, secrets};

#[derive(Debug, Clone)]
pub struct TokenConfig {
    pub secret: Secret,
    pub issuer: String,
    pub audience: String,
    pub lifetime_hours: i64,
    /// The key set entitlement tokens are signed with (checked); None: a new key per process in
    /// development, no entitlement tokens in a function that does not make them.
    pub entitlement_keys: Option<Secret>,
    pub entitlement_lifetime_secs: i64,
    /// NextAuth.js's `NEXTAUTH_SECRET`: its session tokens are accepted when set.
    pub nextauth_secret: Option<Secret>,
    pub nextauth_salt: String,
    /// OpenID Connect providers whose tokens are accepted (`OIDC_ISSUERS`).
    pub oidc: Vec<OidcIssuer>,
}

/// One OpenID Connect provider: its issuer, the audiences its tokens must name, its keys.
#[derive(Debug, Clone)]
pub struct OidcIssuer {
    pub issuer: String,
    pub audiences: Vec<String>,
    pub keys: crate::auth::external::oidc::KeySource,
}

const DEV_JWT_SECRET: &str = "tollgate-development-secret-not-for-production-use";

/// The tokens' configuration; `needed` says whether this function uses a secret.
pub(super) fn from_source(
    src: &dyn Source,
    dev: bool,
    needed: &dyn Fn(&str) -> bool,
) -> Result<TokenConfig, ConfigError> {
    let jwt_secret = match src.get("JWT_SECRET") {
        Some(s) if s.len() >= 32 => Secret::new(s),
        Some(_) => return Err(problem("JWT_SECRET", "must be at least 32 bytes")),
        None if dev => Secret::new(DEV_JWT_SECRET),
        // A function that neither issues nor checks tokens: a key of its own, known to no one.
        None if !needed(secrets::JWT_SECRET) => {
            Secret::new(format!("{}{}", uuid::Uuid::new_v4().simple(), uuid::Uuid::new_v4().simple()))
        }
        None => return Err(problem("JWT_SECRET", "is required in production")),
    };
    let tokens = TokenConfig {
        secret: jwt_secret,
        issuer: src.get("JWT_ISSUER").unwrap_or_else(|| "tollgate".into()),
        audience: src.get("JWT_AUDIENCE").unwrap_or_else(|| "tollgate-app".into()),
        lifetime_hours: number(src, "JWT_EXP_HOURS", 720, 1)?,
        entitlement_keys: match src.get(secrets::ENTITLEMENT_KEYS) {
            Some(text) => {
                crate::auth::offline::KeySet::parse(&text).map_err(|e| problem(secrets::ENTITLEMENT_KEYS, e))?;
                Some(Secret::new(text))
            }
            None if dev || !needed(secrets::ENTITLEMENT_KEYS) => None,
            None => return Err(problem(secrets::ENTITLEMENT_KEYS, "is required in production")),
        },
        entitlement_lifetime_secs: match number(src, "ENTITLEMENT_TOKEN_MINUTES", 15, 1)? {
            minutes if minutes <= 60 => minutes * 60,
            _ => return Err(problem("ENTITLEMENT_TOKEN_MINUTES", "must be at most 60 (they cannot be revoked)")),
        },
        nextauth_secret: match src.get(secrets::NEXTAUTH_SECRET) {
            Some(s) if s.len() >= 16 => Some(Secret::new(s)),
            Some(_) => return Err(problem(secrets::NEXTAUTH_SECRET, "must be at least 16 bytes")),
            None => None,
        },
        nextauth_salt: src.get("NEXTAUTH_SALT").unwrap_or_default(),
        oidc: match src.get("OIDC_ISSUERS") {
            Some(text) => issuers::parse(&text).map_err(|e| problem("OIDC_ISSUERS", e))?,
            None => Vec::new(),
        },
    };
    let own_issuer = &tokens.issuer;
    if let Some(clash) = tokens.oidc.iter().find(|p| &p.issuer == own_issuer) {
        return Err(problem("OIDC_ISSUERS", format!("{:?} is Tollgate's own issuer (JWT_ISSUER)", clash.issuer)));
    }
    Ok(tokens)
}
