//! `@tollgate/client` (clients/js) against the dev server: its types are what the committed
//! OpenAPI document generates, and its tests (node's test runner) pass against `tollgate dev`.

mod dev_server;

use std::process::Command;

use dev_server::{output_text as report, root};

fn npm(args: &[&str]) -> Command {
    let mut command = Command::new("npm");
    command.args(args).current_dir(root().join("clients/js"));
    command
}

#[test]
fn the_clients_types_are_generated_from_the_committed_document() {
    let fresh = std::env::temp_dir().join(format!("tollgate-schema-{}.d.ts", std::process::id()));
    let out = npm(&["exec", "--", "openapi-typescript", "../../openapi.json", "--empty-objects-unknown", "--output"])
        .arg(&fresh)
        .output()
        .unwrap();
    assert!(out.status.success(), "openapi-typescript failed:\n{}", report(&out));
    let generated = std::fs::read_to_string(&fresh).unwrap();
    std::fs::remove_file(&fresh).ok();
    let committed = std::fs::read_to_string(root().join("clients/js/src/schema.d.ts")).unwrap();
    assert!(generated == committed, "clients/js/src/schema.d.ts is stale: run `npm run generate --prefix clients/js`");
}

#[tokio::test]
async fn the_clients_tests_pass_against_the_dev_server() {
    let server = dev_server::start(&[]).await;
    let out = npm(&["test"]).env("TOLLGATE_URL", &server.url).output().unwrap();
    let text = report(&out);
    assert!(out.status.success(), "the client's tests failed:\n{text}");
    assert!(text.contains("# fail 0") && !text.contains("# pass 0"), "the client's tests ran:\n{text}");
}
