//! `OIDC_ISSUERS`: the OpenID Connect providers whose tokens Tollgate accepts, as a JSON list:
//! `[{"issuer": "https://x.us.auth0.com/", "audience": "my-api", "jwks_url": "https://x.us.auth0.com/.well-known/jwks.json"}]`
//! (`audience` may be a list; `jwks_file` names a local JWKS instead of `jwks_url`).

use serde::Deserialize;

use super::OidcIssuer;
use crate::auth::external::{nextauth, oidc::KeySource};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Raw {
    issuer: String,
    audience: Audience,
    jwks_url: Option<String>,
    jwks_file: Option<String>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum Audience {
    One(String),
    Many(Vec<String>),
}

pub fn parse(text: &str) -> Result<Vec<OidcIssuer>, String> {
    let raw: Vec<Raw> = serde_json::from_str(text).map_err(|e| format!("is not a JSON list of issuers ({e})"))?;
    let mut out: Vec<OidcIssuer> = Vec::new();
    for r in raw {
        let issuer = r.issuer.trim().to_string();
        // The issuer names the identities' key space (`IDENTITY#<issuer>#<subject>`).
        if issuer.is_empty()
            || issuer.contains('#')
            || issuer.chars().any(char::is_control)
            || issuer == nextauth::ISSUER
        {
            return Err(format!("{issuer:?} is not a usable issuer"));
        }
        if out.iter().any(|o| o.issuer == issuer) {
            return Err(format!("{issuer:?} is listed twice"));
        }
        let audiences = match r.audience {
            Audience::One(a) => vec![a],
            Audience::Many(list) => list,
        };
        if audiences.is_empty() || audiences.iter().any(|a| a.is_empty()) {
            return Err(format!("{issuer:?} needs an audience"));
        }
        let keys = match (r.jwks_url, r.jwks_file) {
            (Some(url), None) => KeySource::Url(checked_url(&url)?),
            (None, Some(path)) => {
                let text = std::fs::read_to_string(&path).map_err(|e| format!("cannot read {path}: {e}"))?;
                KeySource::File(serde_json::from_str(&text).map_err(|e| format!("{path} is not a JWK set: {e}"))?)
            }
            _ => return Err(format!("{issuer:?} needs one of jwks_url and jwks_file")),
        };
        out.push(OidcIssuer { issuer, audiences, keys });
    }
    Ok(out)
}

/// HTTPS, or HTTP on this machine (a local provider in development and tests).
fn checked_url(url: &str) -> Result<String, String> {
    let local = ["http://127.0.0.1", "http://localhost", "http://[::1]"]
        .iter()
        .any(|p| url.strip_prefix(p).is_some_and(|rest| rest.is_empty() || rest.starts_with([':', '/'])));
    if url.starts_with("https://") || local {
        Ok(url.to_string())
    } else {
        Err(format!("jwks_url {url:?} must be https (or http on localhost)"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issuers_parse_with_one_or_many_audiences() {
        let list = parse(
            r#"[{"issuer":"https://a.example/","audience":"api","jwks_url":"https://a.example/jwks"},
                {"issuer":"https://b.example","audience":["x","y"],"jwks_url":"http://127.0.0.1:9/jwks"}]"#,
        )
        .unwrap();
        assert_eq!(list[0].audiences, ["api"]);
        assert_eq!(list[1].audiences, ["x", "y"]);
        assert_eq!(list[1].keys, KeySource::Url("http://127.0.0.1:9/jwks".into()));
    }

    #[test]
    fn unusable_issuers_are_refused_with_the_reason() {
        for (bad, why) in [
            ("{}", "JSON list"),
            (r#"[{"issuer":"a#b","audience":"x","jwks_url":"https://a/"}]"#, "usable issuer"),
            (r#"[{"issuer":"nextauth","audience":"x","jwks_url":"https://a/"}]"#, "usable issuer"),
            (r#"[{"issuer":"https://a","audience":[],"jwks_url":"https://a/"}]"#, "audience"),
            (r#"[{"issuer":"https://a","audience":"x"}]"#, "one of jwks_url"),
            (r#"[{"issuer":"https://a","audience":"x","jwks_url":"http://evil.example/"}]"#, "https"),
            (r#"[{"issuer":"https://a","audience":"x","jwks_url":"http://localhost.evil.example/"}]"#, "https"),
            (r#"[{"issuer":"https://a","audience":"x","jwks_file":"/nonexistent"}]"#, "cannot read"),
            (
                r#"[{"issuer":"https://a","audience":"x","jwks_url":"https://a/"},{"issuer":"https://a","audience":"y","jwks_url":"https://a/"}]"#,
                "twice",
            ),
        ] {
            let err = parse(bad).unwrap_err();
            assert!(err.contains(why), "{bad}: {err}");
        }
    }
}
