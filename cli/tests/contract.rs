//! The OpenAPI contract: it documents every route of every function once, the committed
//! `openapi.json` is what the code generates, and schemathesis, generating requests from it
//! against the dev server, finds no server error and no answer outside the schema.

mod dev_server;

use std::collections::BTreeSet;
use std::process::Command;

use dev_server::{BIN, root, sign_in, venv_tool};
use tollgate_cli::openapi::{OPERATIONS, document, json};

#[test]
fn the_contract_documents_every_route_of_every_function_once() {
    let routes: Vec<(&str, &str)> = tollgate_cli::routes();
    let documented: Vec<(&str, &str)> = OPERATIONS.iter().map(|op| (op.method, op.path)).collect();
    let unique: BTreeSet<_> = documented.iter().collect();
    assert_eq!(unique.len(), documented.len(), "an operation is documented twice");
    let routes: BTreeSet<_> = routes.iter().collect();
    assert_eq!(unique, routes, "the operations table and the functions' route tables differ");
    let ids: BTreeSet<_> = OPERATIONS.iter().map(|op| op.id).collect();
    assert_eq!(ids.len(), OPERATIONS.len(), "operation ids are unique");
    let doc = serde_json::to_value(document()).unwrap();
    assert_eq!(doc["openapi"], "3.1.0");
    for op in OPERATIONS {
        let described = &doc["paths"][op.path][op.method.to_lowercase()];
        assert!(described["responses"][op.ok.0.to_string()].is_object(), "{} {}: its success", op.method, op.path);
        assert!(described["responses"]["default"].is_object(), "{} {}: any other failure", op.method, op.path);
        assert!(!op.summary.is_empty(), "{} {} has a summary", op.method, op.path);
    }
    // Every schema an operation refers to is in the document.
    let text = doc.to_string();
    for reference in text.split("\"#/components/schemas/").skip(1) {
        let name = &reference[..reference.find('"').unwrap()];
        assert!(doc["components"]["schemas"][name].is_object(), "{name} is referred to but not defined");
    }
}

#[test]
fn the_committed_openapi_json_is_what_the_code_generates() {
    let committed = std::fs::read_to_string(root().join("openapi.json")).unwrap_or_default();
    let generated = json().unwrap();
    assert!(
        committed == generated,
        "openapi.json is stale: run `cargo run --bin tollgate -- openapi > openapi.json` and commit it"
    );
    let out = Command::new(BIN).arg("openapi").output().unwrap();
    assert_eq!(String::from_utf8(out.stdout).unwrap(), generated, "`tollgate openapi` prints it");
}

/// One schemathesis run over the operations `filter` selects, as `token`'s caller.
fn schemathesis(url: &str, token: &str, filter: &[&str]) -> (bool, String) {
    let out = Command::new(venv_tool("schemathesis"))
        .args(["run", &format!("{url}/openapi.json"), "--url", url])
        .args(["--header", &format!("Authorization: Bearer {token}")])
        .args(["--checks", "not_a_server_error,response_schema_conformance,content_type_conformance"])
        .args(["--phases", "examples,coverage,fuzzing", "--max-examples", "25", "--workers", "1"])
        .args(["--seed", "20261124", "--no-color", "--request-timeout", "10"])
        .args(filter)
        .env("SCHEMATHESIS_TELEMETRY", "false")
        // Its cache goes to the temporary directory, not into the repository.
        .current_dir(std::env::temp_dir())
        .output()
        .unwrap();
    let report = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    (out.status.success(), report)
}

#[tokio::test]
async fn schemathesis_finds_no_server_error_and_no_answer_outside_the_schema() {
    let server = dev_server::start(&[("ADMIN_EMAILS", "admin@example.com")]).await;
    let url = &server.url;
    let user = sign_in(url, "user@example.com").await;
    let admin = sign_in(url, "admin@example.com").await;
    let runs: [(&str, &String, Vec<&str>); 3] = [
        // A signed-in user on every route but those that end the token or the account.
        (
            "user",
            &user,
            vec![
                "--exclude-tag",
                "admin",
                "--exclude-operation-id",
                "signOutEverywhere",
                "--exclude-operation-id",
                "eraseMe",
            ],
        ),
        ("admin", &admin, vec!["--include-tag", "admin", "--include-operation-id", "diagnostics"]),
        // Last: what ends the user's token and account.
        ("ending", &user, vec!["--include-operation-id", "signOutEverywhere", "--include-operation-id", "eraseMe"]),
    ];
    for (name, token, filter) in runs {
        let (passed, report) = schemathesis(url, token, &filter);
        assert!(passed, "schemathesis ({name}) failed:\n{report}");
        assert!(report.contains("passed"), "schemathesis ({name}) ran no cases:\n{report}");
    }
}
