//! The configuration's secrets. In development each is its variable's value; in production each
//! is `<NAME>_ARN`, a Secrets Manager secret read once at start (the value never sits in the
//! function's environment), and a function asks only for the secrets it uses: the others are not
//! required, and its role cannot read them.

use std::collections::HashMap;

use super::{ConfigError, Source, problem};

pub const STRIPE_SECRET_KEY: &str = "STRIPE_SECRET_KEY";
pub const STRIPE_WEBHOOK_SECRET: &str = "STRIPE_WEBHOOK_SECRET";
pub const JWT_SECRET: &str = "JWT_SECRET";
/// The Ed25519 key set entitlement tokens are signed with (a JWK set; `tollgate keys`).
pub const ENTITLEMENT_KEYS: &str = "ENTITLEMENT_KEYS";
/// NextAuth.js's secret, when the app signs users in with NextAuth (optional everywhere).
pub const NEXTAUTH_SECRET: &str = "NEXTAUTH_SECRET";
/// Every secret; what the dev server and the tests use.
pub const ALL: &[&str] = &[STRIPE_SECRET_KEY, STRIPE_WEBHOOK_SECRET, JWT_SECRET, ENTITLEMENT_KEYS, NEXTAUTH_SECRET];

/// The environment, with the secrets read from Secrets Manager in place of their ARNs.
pub struct WithSecrets<'a> {
    pub env: &'a dyn Source,
    pub secrets: HashMap<String, String>,
}

impl Source for WithSecrets<'_> {
    fn get(&self, name: &str) -> Option<String> {
        self.secrets.get(name).cloned().filter(|v| !v.trim().is_empty()).or_else(|| self.env.get(name))
    }
}

fn arn_var(name: &str) -> String {
    format!("{name}_ARN")
}

/// Reads every `<NAME>_ARN` the environment gives (at once), refusing a secret given both ways
/// or one that cannot be read. `endpoint` overrides Secrets Manager's (a local server in tests).
pub async fn resolve(env: &dyn Source, endpoint: Option<&str>) -> Result<HashMap<String, String>, ConfigError> {
    if !ALL.iter().any(|name| env.get(&arn_var(name)).is_some()) {
        return Ok(HashMap::new());
    }
    resolve_using(env, &crate::outbound::HttpClient::new().aws_config(endpoint).await).await
}

/// As `resolve`, with the process's AWS configuration.
pub async fn resolve_using(
    env: &dyn Source,
    aws: &aws_types::SdkConfig,
) -> Result<HashMap<String, String>, ConfigError> {
    let mut wanted = Vec::new();
    for name in ALL {
        let var = arn_var(name);
        if let Some(arn) = env.get(&var) {
            if env.get(name).is_some() {
                return Err(problem(&var, format!("give {name} or {var}, not both")));
            }
            wanted.push((*name, var, arn));
        }
    }
    if wanted.is_empty() {
        return Ok(HashMap::new());
    }
    #[cfg(not(feature = "secrets-manager"))]
    {
        let _ = aws;
        let (_, var, _) = &wanted[0];
        Err(problem(
            var,
            "this function is built without Secrets Manager (feature `secrets-manager`) and uses no secrets",
        ))
    }
    #[cfg(feature = "secrets-manager")]
    read(aws, wanted).await
}

/// Reads the wanted secrets in one request (`BatchGetSecretValue`) when there are several, so a
/// cold start pays one round trip and one TLS handshake rather than one per secret. A secret the
/// batch does not return (an error for it, an id it answers under another form, or the batch
/// refused, as by a role without the batch permission) is read on its own, as is a lone secret:
/// the answer, and any error, is the same either way.
#[cfg(feature = "secrets-manager")]
async fn read(
    aws: &aws_types::SdkConfig,
    wanted: Vec<(&'static str, String, String)>,
) -> Result<HashMap<String, String>, ConfigError> {
    let client = aws_sdk_secretsmanager::Client::new(aws);
    let mut secrets = HashMap::new();
    let mut rest = wanted;
    if rest.len() > 1 {
        let ids: Vec<String> = rest.iter().map(|(_, _, arn)| arn.clone()).collect();
        match client.batch_get_secret_value().set_secret_id_list(Some(ids)).send().await {
            Ok(batch) => rest.retain(|(name, var, id)| {
                let found = batch.secret_values().iter().find(|entry| answers(entry, id));
                match found.and_then(|entry| entry.secret_string()).filter(|v| !v.trim().is_empty()) {
                    Some(value) => {
                        secrets.insert(name.to_string(), value.trim().to_string());
                        false
                    }
                    None => {
                        tracing::warn!(variable = %var, "not in Secrets Manager's batch answer; reading it alone");
                        true
                    }
                }
            }),
            Err(e) => {
                let e = aws_sdk_secretsmanager::error::DisplayErrorContext(e);
                tracing::warn!(error = %e, "Secrets Manager's batch read refused; reading each secret alone");
            }
        }
    }
    let mut reads = tokio::task::JoinSet::new();
    for (name, var, arn) in rest {
        let client = client.clone();
        reads.spawn(async move { (name, var, client.get_secret_value().secret_id(arn).send().await) });
    }
    while let Some(read) = reads.join_next().await {
        let (name, var, answer) = read.map_err(|e| problem("secrets", e.to_string()))?;
        // The SDK's error names the secret, never its value.
        let value = answer
            .map_err(|e| {
                let e = aws_sdk_secretsmanager::error::DisplayErrorContext(e);
                problem(&var, format!("could not be read from Secrets Manager: {e}"))
            })?
            .secret_string
            .filter(|v| !v.trim().is_empty())
            .ok_or_else(|| problem(&var, "names a secret with no text value"))?;
        secrets.insert(name.to_string(), value.trim().to_string());
    }
    Ok(secrets)
}

/// Whether a batch answer's entry is the secret asked for as `id`: its ARN, its name, or its ARN
/// without the six characters Secrets Manager appends (a partial ARN).
#[cfg(feature = "secrets-manager")]
fn answers(entry: &aws_sdk_secretsmanager::types::SecretValueEntry, id: &str) -> bool {
    let arn = entry.arn().unwrap_or_default();
    arn == id
        || entry.name() == Some(id)
        || (id.starts_with("arn:")
            && arn.len() == id.len() + 7
            && arn.starts_with(id)
            && arn.as_bytes()[id.len()] == b'-')
}
