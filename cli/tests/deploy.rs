//! The deployed stack as template.yaml declares it: each function reads only the secrets it
//! uses, from Secrets Manager (no secret in its environment), with only the DynamoDB actions it
//! needs, logs kept for a set time; and the secrets are read from a real Secrets Manager API
//! (moto's server) once at start.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::HttpRequest;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use tollgate::config::secrets;
use tollgate::config::{Config, ConfigError};

/// Each function and the secrets its code says it uses.
const USES: [(&str, &[&str]); 9] = [
    ("AuthFunction", tollgate_auth::SECRETS),
    ("CheckoutFunction", tollgate_checkout::SECRETS),
    ("WebhookFunction", tollgate_webhook::SECRETS),
    ("ClaimFunction", tollgate_claim::SECRETS),
    ("CreditsFunction", tollgate_credits::SECRETS),
    ("AdminFunction", tollgate_admin::SECRETS),
    ("SessionsFunction", tollgate_sessions::SECRETS),
    ("MailerFunction", tollgate_mailer::SECRETS),
    ("ReconcileFunction", tollgate_reconcile::SECRETS),
];

/// The parameter (or resource) that holds each secret's ARN in template.yaml.
fn holder(secret: &str) -> &'static str {
    match secret {
        secrets::JWT_SECRET => "JwtSecret",
        secrets::STRIPE_SECRET_KEY => "StripeSecretKeyArn",
        secrets::STRIPE_WEBHOOK_SECRET => "StripeWebhookSecretArn",
        secrets::ENTITLEMENT_KEYS => "EntitlementKeysSecretArn",
        secrets::NEXTAUTH_SECRET => "NextAuthSecretArn",
        other => panic!("an unknown secret {other}"),
    }
}

/// template.yaml's resources: name -> its lines.
fn resources() -> BTreeMap<String, Vec<String>> {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../template.yaml")).unwrap();
    let body = text.split("\nResources:\n").nth(1).unwrap().split("\nOutputs:\n").next().unwrap();
    let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut current = String::new();
    for line in body.lines() {
        if line.starts_with("  ") && !line.starts_with("   ") && line.trim_end().ends_with(':') {
            current = line.trim().trim_end_matches(':').to_string();
        } else if !current.is_empty() {
            out.entry(current.clone()).or_default().push(line.trim().to_string());
        }
    }
    out
}

#[test]
fn each_function_reads_exactly_its_secrets_from_secrets_manager() {
    let resources = resources();
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../template.yaml")).unwrap();
    for name in secrets::ALL {
        assert!(!text.contains(&format!("{name}: ")), "{name}'s value is never in a function's environment");
    }
    for (function, uses) in USES {
        let lines = &resources[function];
        let env: BTreeSet<String> = lines
            .iter()
            .filter_map(|l| l.split_once("_ARN: ").map(|(name, value)| format!("{name}={}", arn_holder(value))))
            .collect();
        let expected: BTreeSet<String> = uses.iter().map(|s| format!("{s}={}", holder(s))).collect();
        assert_eq!(env, expected, "{function}: the ARNs in its environment are the secrets it uses");
        let readable: BTreeSet<&str> = lines
            .iter()
            .skip_while(|l| *l != "- secretsmanager:GetSecretValue")
            .skip(2)
            .map_while(|l| l.strip_prefix("- ").filter(|v| v.starts_with("!Ref ") || v.starts_with("!If ")))
            .map(arn_holder)
            .collect();
        let expected: BTreeSet<&str> = uses.iter().map(|s| holder(s)).collect();
        assert_eq!(readable, expected, "{function}: its role reads only the secrets it uses");
        let batch = lines
            .iter()
            .skip_while(|l| *l != "- secretsmanager:BatchGetSecretValue")
            .find(|l| l.starts_with("Resource"));
        let expected = (uses.len() > 1).then_some(r#"Resource: "*""#);
        assert_eq!(batch.map(String::as_str), expected, "{function}: the batch read where it reads several secrets");
        assert!(!lines.iter().any(|l| l.contains("DynamoDBCrudPolicy")), "{function}: no blanket DynamoDB policy");
        assert!(!lines.iter().any(|l| l.contains("dynamodb:Scan") || l.contains("dynamodb:*")), "{function}");
        let logs = &resources.get(&format!("{function}Logs")).unwrap_or_else(|| panic!("{function} has a log group"));
        assert!(logs.iter().any(|l| l == &format!("LogGroupName: !Sub /aws/lambda/${{{function}}}")), "{logs:?}");
        assert!(logs.iter().any(|l| l == "RetentionInDays: !Ref LogRetentionDays"));
        assert!(resources.contains_key(&format!("{function}ErrorsAlarm")), "{function} errors alarm");
        assert!(resources.contains_key(&format!("{function}ThrottlesAlarm")), "{function} throttles alarm");
    }
    let webhook = &resources["WebhookFunction"];
    assert!(webhook.iter().any(|l| l == "ReservedConcurrentExecutions: !Ref WebhookReservedConcurrency"));
}

/// The parameter an ARN comes from: `!Ref X`, or an optional one, `!If [HasX, !Ref X, !Ref "AWS::NoValue"]`.
fn arn_holder(value: &str) -> &str {
    match value.strip_prefix("!If [") {
        Some(rest) => {
            let (_, then) = rest.split_once(", !Ref ").expect("!If [condition, !Ref X, ...]");
            assert!(rest.ends_with(r#"!Ref "AWS::NoValue"]"#), "an optional secret is absent otherwise: {value}");
            then.split(',').next().unwrap()
        }
        None => value.strip_prefix("!Ref ").unwrap_or(value),
    }
}

fn production(vars: &[(&str, &str)]) -> HashMap<String, String> {
    let mut map: HashMap<String, String> = [
        ("TOLLGATE_ENV", "production"),
        ("STORE", "dynamodb"),
        ("TABLE_NAME", "tollgate"),
        ("EMAIL_SENDER", "ses"),
        ("EMAIL_FROM", "billing@example.com"),
        ("CHECKOUT_SUCCESS_URL", "https://app.example.com/ok?session_id={CHECKOUT_SESSION_ID}"),
        ("CHECKOUT_CANCEL_URL", "https://app.example.com/cancel"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    map.extend(vars.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    map
}

#[test]
fn a_function_needs_only_the_secrets_it_uses() {
    let jwt = "j".repeat(40);
    let only_jwt = production(&[("JWT_SECRET", &jwt)]);
    let config =
        Config::from_source_using(&only_jwt, tollgate_credits::SECRETS).expect("credits needs only the JWT secret");
    assert!(config.stripe.secret_key.is_none() && config.stripe.webhook_secrets.is_empty());
    let refused = Config::from_source_using(&only_jwt, tollgate_checkout::SECRETS).unwrap_err();
    assert_eq!(refused.variable, "STRIPE_SECRET_KEY");
    let mailer = Config::from_source_using(&production(&[]), tollgate_mailer::SECRETS).expect("the mailer needs none");
    assert!(mailer.tokens.secret.expose().len() >= 32, "a key of its own, never a known default");
    assert!(Config::from_source(&only_jwt).is_err(), "the dev server and the tests need all of them");
    let refused = Config::from_source_using(&only_jwt, tollgate_sessions::SECRETS).unwrap_err();
    assert_eq!(refused.variable, "ENTITLEMENT_KEYS", "a function that signs entitlement tokens needs the key set");
    let set: serde_json::Value = serde_json::from_str(&tollgate::auth::offline::KeySet::generate("k1")).unwrap();
    let mut broken = set.clone();
    broken["keys"][0]["x"] = "AAAA".into();
    let env = production(&[("JWT_SECRET", &jwt), ("ENTITLEMENT_KEYS", &broken.to_string())]);
    let refused = Config::from_source_using(&env, tollgate_sessions::SECRETS).unwrap_err();
    assert_eq!(refused.variable, "ENTITLEMENT_KEYS");
    assert!(!refused.problem.contains(set["keys"][0]["d"].as_str().unwrap()), "no private key in the error");
    let env = production(&[("JWT_SECRET", &jwt), ("ENTITLEMENT_KEYS", &set.to_string())]);
    assert!(Config::from_source_using(&env, tollgate_sessions::SECRETS).is_ok());
}

#[tokio::test]
async fn secrets_are_read_from_secrets_manager_once_at_start() {
    let endpoint = tollgate_testkit::dynamodb_endpoint();
    let client = secrets_manager(&endpoint);
    let name = format!("tollgate-test-{}", std::process::id());
    let jwt = client
        .create_secret()
        .name(format!("{name}-jwt"))
        .secret_string("s".repeat(48))
        .send()
        .await
        .expect("moto's Secrets Manager creates a secret");
    let hook =
        client.create_secret().name(format!("{name}-hook")).secret_string("whsec_a, whsec_b").send().await.unwrap();
    let key_set = tollgate::auth::offline::KeySet::generate("k1");
    let keys = client.create_secret().name(format!("{name}-keys")).secret_string(&key_set).send().await.unwrap();
    let env = production(&[
        ("JWT_SECRET_ARN", jwt.arn().unwrap()),
        ("STRIPE_WEBHOOK_SECRET_ARN", hook.arn().unwrap()),
        ("ENTITLEMENT_KEYS_ARN", keys.arn().unwrap()),
        ("STRIPE_SECRET_KEY", "sk_test_123"),
    ]);
    let read = secrets::resolve(&env, Some(&endpoint)).await.expect("the secrets read");
    assert_eq!(read.len(), 3);
    let config = Config::from_source(&secrets::WithSecrets { env: &env, secrets: read }).unwrap();
    assert_eq!(config.tokens.secret.expose(), "s".repeat(48));
    assert_eq!(config.tokens.entitlement_keys.as_ref().map(|k| k.expose()), Some(key_set.trim()));
    assert_eq!(config.stripe.webhook_secrets.len(), 2, "rotation: two secrets in one");

    let missing = production(&[("JWT_SECRET_ARN", "arn:aws:secretsmanager:us-east-1:123456789012:secret:nope")]);
    let ConfigError { variable, problem } = secrets::resolve(&missing, Some(&endpoint)).await.unwrap_err();
    assert_eq!(variable, "JWT_SECRET_ARN");
    assert!(problem.contains("could not be read"), "{problem}");
    let both = production(&[("JWT_SECRET", "x"), ("JWT_SECRET_ARN", jwt.arn().unwrap())]);
    assert_eq!(secrets::resolve(&both, Some(&endpoint)).await.unwrap_err().variable, "JWT_SECRET_ARN");
}

/// A client of the test server's Secrets Manager (the test command sets test credentials).
fn secrets_manager(endpoint: &str) -> aws_sdk_secretsmanager::Client {
    use aws_sdk_secretsmanager::config::{BehaviorVersion, Credentials, Region};
    let config = aws_sdk_secretsmanager::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .endpoint_url(endpoint)
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("testing", "testing", None, None, "tollgate-tests"))
        .http_client(tollgate::outbound::HttpClient::new())
        .build();
    aws_sdk_secretsmanager::Client::from_conf(config)
}

/// Several secrets are read in one request, whether each is named by its ARN, its name or a
/// partial ARN; one the batch cannot answer is read on its own, and its error names its variable.
#[tokio::test]
async fn several_secrets_are_read_in_one_request() {
    let endpoint = tollgate_testkit::dynamodb_endpoint();
    let client = secrets_manager(&endpoint);
    let name = format!("tollgate-batch-{}", std::process::id());
    let mut arns = Vec::new();
    for (suffix, value) in [("jwt", "j".repeat(48)), ("hook", "whsec_a".into()), ("stripe", "sk_test_b".into())] {
        let made = client.create_secret().name(format!("{name}-{suffix}")).secret_string(value).send().await.unwrap();
        arns.push(made.arn().unwrap().to_string());
    }
    let partial = &arns[2][..arns[2].len() - 7];
    assert!(arns[2].starts_with(partial) && arns[2].as_bytes()[partial.len()] == b'-', "{}", arns[2]);
    let env = production(&[
        ("JWT_SECRET_ARN", &arns[0]),
        ("STRIPE_WEBHOOK_SECRET_ARN", &format!("{name}-hook")),
        ("STRIPE_SECRET_KEY_ARN", partial),
    ]);
    let (aws, requests) = counted(&endpoint).await;
    let read = secrets::resolve_using(&env, &aws).await.expect("the secrets read");
    let expected: HashMap<String, String> = [
        (secrets::JWT_SECRET, "j".repeat(48)),
        (secrets::STRIPE_WEBHOOK_SECRET, "whsec_a".into()),
        (secrets::STRIPE_SECRET_KEY, "sk_test_b".into()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    assert_eq!(read, expected);
    assert_eq!(requests.load(std::sync::atomic::Ordering::SeqCst), 1, "three secrets, one request");

    let missing = "arn:aws:secretsmanager:us-east-1:123456789012:secret:nope-AbCdEf";
    let env = production(&[("JWT_SECRET_ARN", &arns[0]), ("ENTITLEMENT_KEYS_ARN", missing)]);
    let (aws, requests) = counted(&endpoint).await;
    let ConfigError { variable, problem } = secrets::resolve_using(&env, &aws).await.unwrap_err();
    assert_eq!(variable, "ENTITLEMENT_KEYS_ARN");
    assert!(problem.contains("could not be read") && !problem.contains(&"j".repeat(48)), "{problem}");
    assert_eq!(requests.load(std::sync::atomic::Ordering::SeqCst), 2, "the batch, then the missing one alone");
}

/// The AWS configuration of the test server, its requests counted.
async fn counted(endpoint: &str) -> (aws_types::SdkConfig, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    let requests = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let inner = tollgate::outbound::HttpClient::new();
    let aws =
        inner.aws_config(Some(endpoint)).await.to_builder().http_client(Counted { inner, requests: requests.clone() });
    (aws.build(), requests)
}

/// Tollgate's HTTP client, counting the requests it sends.
#[derive(Debug, Clone)]
struct Counted {
    inner: tollgate::outbound::HttpClient,
    requests: std::sync::Arc<std::sync::atomic::AtomicUsize>,
}

impl HttpConnector for Counted {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        self.requests.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        self.inner.call(request)
    }
}

impl HttpClient for Counted {
    fn http_connector(&self, _: &HttpConnectorSettings, _: &RuntimeComponents) -> SharedHttpConnector {
        SharedHttpConnector::new(self.clone())
    }
}
