//! Configuration from the environment, case by case.

use super::*;

fn env(pairs: &[(&str, &str)]) -> HashMap<String, String> {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

fn production() -> Vec<(&'static str, &'static str)> {
    vec![
        ("TABLE_NAME", "tollgate"),
        ("EMAIL_FROM", "no-reply@example.com"),
        ("STRIPE_SECRET_KEY", "sk_test_123"),
        ("STRIPE_WEBHOOK_SECRET", "whsec_a, whsec_b"),
        ("JWT_SECRET", "0123456789abcdef0123456789abcdef"),
        ("CHECKOUT_SUCCESS_URL", "https://app.example.com/ok?session_id={CHECKOUT_SESSION_ID}"),
        ("CHECKOUT_CANCEL_URL", "https://app.example.com/cancel"),
        ("ENTITLEMENT_KEYS", test_key_set()),
    ]
}

fn test_key_set() -> &'static str {
    static SET: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    SET.get_or_init(|| crate::auth::offline::KeySet::generate("test"))
}

#[test]
fn production_config_reads_every_variable() {
    let c = Config::from_source(&env(&production())).unwrap();
    assert_eq!(c.environment, Environment::Production);
    assert_eq!(c.store, StoreConfig::DynamoDb { table: "tollgate".into(), endpoint: None });
    assert_eq!(c.stripe.webhook_secrets.len(), 2);
    assert!(!c.stripe.livemode());
    assert_eq!(c.tokens.lifetime_hours, 720);
    assert_eq!(c.auth.email_limit, 5);
    assert_eq!(c.auth.ip_limit, 30);
    assert_eq!((c.auth.attempts_per_day, c.auth.resend_cooldown_secs), (20, 60));
    assert_eq!(c.tokens.entitlement_lifetime_secs, 900);
    assert!(c.tokens.nextauth_secret.is_none() && c.tokens.oidc.is_empty());
}

#[test]
fn sign_in_hardening_is_lenient_in_development() {
    let dev = Config::from_source(&env(&[("TOLLGATE_ENV", "development")])).unwrap();
    assert_eq!((dev.auth.attempts_per_day, dev.auth.resend_cooldown_secs), (1000, 0));
}

#[test]
fn other_issuers_are_checked_at_start() {
    let mut vars = production();
    vars.push(("NEXTAUTH_SECRET", "short"));
    assert_eq!(Config::from_source(&env(&vars)).unwrap_err().variable, "NEXTAUTH_SECRET");
    let mut vars = production();
    vars.push(("OIDC_ISSUERS", r#"[{"issuer":"tollgate","audience":"a","jwks_url":"https://x/"}]"#));
    let refused = Config::from_source(&env(&vars)).unwrap_err();
    assert_eq!(refused.variable, "OIDC_ISSUERS");
    assert!(refused.problem.contains("own issuer"), "{}", refused.problem);
    let mut vars = production();
    vars.push(("ENTITLEMENT_TOKEN_MINUTES", "120"));
    assert_eq!(Config::from_source(&env(&vars)).unwrap_err().variable, "ENTITLEMENT_TOKEN_MINUTES");
}

#[test]
fn production_refuses_the_memory_store() {
    let mut vars = production();
    vars.push(("STORE", "memory"));
    assert_eq!(Config::from_source(&env(&vars)).unwrap_err().variable, "STORE");
}

#[test]
fn production_refuses_debug_codes_and_unsigned_webhooks() {
    for name in ["DEBUG_AUTH_CODES", "ALLOW_UNSIGNED_WEBHOOKS"] {
        let mut vars = production();
        vars.push((name, "1"));
        assert_eq!(Config::from_source(&env(&vars)).unwrap_err().variable, name);
    }
}

#[test]
fn production_names_each_missing_secret() {
    for name in
        ["STRIPE_SECRET_KEY", "STRIPE_WEBHOOK_SECRET", "JWT_SECRET", "ENTITLEMENT_KEYS", "TABLE_NAME", "EMAIL_FROM"]
    {
        let vars: Vec<_> = production().into_iter().filter(|(k, _)| *k != name).collect();
        assert_eq!(Config::from_source(&env(&vars)).unwrap_err().variable, name);
    }
}

#[test]
fn short_jwt_secret_is_refused() {
    let mut vars = production();
    vars.retain(|(k, _)| *k != "JWT_SECRET");
    vars.push(("JWT_SECRET", "short"));
    assert_eq!(Config::from_source(&env(&vars)).unwrap_err().variable, "JWT_SECRET");
}

#[test]
fn development_defaults_to_memory_store_console_email_and_simulated_stripe() {
    let c = Config::from_source(&env(&[("TOLLGATE_ENV", "development")])).unwrap();
    assert_eq!(c.store, StoreConfig::Memory);
    assert_eq!(c.email, EmailConfig::Console);
    assert!(c.stripe.secret_key.is_none());
}

#[test]
fn live_keys_expect_live_events() {
    let mut vars = production();
    vars.retain(|(k, _)| *k != "STRIPE_SECRET_KEY");
    vars.push(("STRIPE_SECRET_KEY", "sk_live_abc"));
    assert!(Config::from_source(&env(&vars)).unwrap().stripe.livemode());
}

#[test]
fn admin_emails_are_normalized_and_validated() {
    let mut vars = production();
    vars.push(("ADMIN_EMAILS", " Boss@Example.com, ops@example.com "));
    assert_eq!(Config::from_source(&env(&vars)).unwrap().admin_emails, ["boss@example.com", "ops@example.com"]);
    let mut bad = production();
    bad.push(("ADMIN_EMAILS", "boss"));
    assert_eq!(Config::from_source(&env(&bad)).unwrap_err().variable, "ADMIN_EMAILS");
}

#[test]
fn secrets_do_not_print() {
    let c = Config::from_source(&env(&production())).unwrap();
    let shown = format!("{c:?}");
    assert!(!shown.contains("0123456789abcdef"));
    assert!(!shown.contains("sk_test_123"));
}

#[test]
fn the_checkout_limit_is_lenient_in_development_and_strict_by_default() {
    let dev: HashMap<String, String> =
        [("TOLLGATE_ENV", "development")].into_iter().map(|(k, v)| (k.into(), v.into())).collect();
    assert_eq!(Config::from_source(&dev).unwrap().auth.checkout_limit, 1000);
    let mut set = dev.clone();
    set.insert("RATE_LIMIT_CHECKOUT".into(), "3".into());
    assert_eq!(Config::from_source(&set).unwrap().auth.checkout_limit, 3);
    assert_eq!(Config::from_source(&env(&production())).unwrap().auth.checkout_limit, 20);
}
