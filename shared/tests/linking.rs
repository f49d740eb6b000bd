//! Each function links only the AWS clients it uses: the shared crate's `ses` and
//! `secrets-manager` features, chosen per function (functions/<name>/Cargo.toml), as cargo
//! resolves a function built on its own (`cargo build -p tollgate-<name>`); none links aws-config's
//! credentials chains.

use std::process::Command;

/// Each function and whether it sends email (SES) and reads secrets (Secrets Manager): the
/// functions template.yaml lets send email (`ses:SendEmail`) are the ones that link SES; the
/// others' billing emails wait in the store for the mailer.
const FUNCTIONS: &[(&str, bool, bool)] = &[
    ("auth", true, true),
    ("webhook", true, true),
    ("reconcile", true, true),
    ("mailer", true, false),
    ("checkout", false, true),
    ("claim", false, true),
    ("admin", false, true),
    ("credits", false, true),
    ("sessions", false, true),
];

fn linked(function: &str) -> String {
    let out = Command::new(env!("CARGO"))
        .args(["tree", "--offline", "--locked", "-e", "normal", "--prefix", "none", "-p"])
        .arg(format!("tollgate-{function}"))
        .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
        .output()
        .expect("cargo runs");
    assert!(out.status.success(), "cargo tree: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).expect("utf-8")
}

#[test]
fn each_function_links_the_aws_clients_it_uses_and_no_other() {
    for (function, email, secrets) in FUNCTIONS {
        let tree = linked(function);
        let has = |krate: &str| tree.lines().any(|l| l.starts_with(&format!("{krate} v")));
        assert_eq!(has("aws-sdk-sesv2"), *email, "{function}: SES");
        assert_eq!(has("aws-sdk-secretsmanager"), *secrets, "{function}: Secrets Manager");
        assert!(has("aws-sdk-dynamodb"), "{function}: DynamoDB");
        // One HTTP stack, Tollgate's (shared/src/outbound.rs): no second client, no system roots.
        // And no credentials chain: Lambda's credentials and region are read from the environment.
        for other in
            ["reqwest", "rustls-native-certs", "rustls-platform-verifier", "regex", "aws-config", "aws-sdk-sts"]
        {
            assert!(!has(other), "{function} links {other}");
        }
    }
}

/// aws-lc is built without its CPU jitter entropy source (`.cargo/config.toml`), which costs each
/// process ~30 ms of CPU at its first random number: the first TLS handshake of a cold start.
/// The tests are built with the same configuration as the functions; this asks aws-lc itself.
#[test]
fn aws_lc_is_built_without_cpu_jitter_entropy() {
    // SAFETY: a query with no arguments and no preconditions.
    let jitter = unsafe { aws_lc_sys::FIPS_is_entropy_cpu_jitter() };
    assert_eq!(jitter, 0, "aws-lc uses CPU jitter entropy: is AWS_LC_SYS_NO_JITTER_ENTROPY set?");
}
