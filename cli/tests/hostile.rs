//! Hostile input at every parser: arbitrary paths, methods, query strings, headers and bodies
//! through the dev server's dispatcher (its own pages, then every function's routes). No input
//! may panic; every refusal is a 4xx, and every API refusal is the JSON error envelope.

use proptest::prelude::*;
use serde_json::Value;
use tollgate::testing::{self, raw_request};
use tollgate_cli::dev::dispatch;

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap()
}

/// Every path the servers know, as seeds a mutation starts from.
fn known_paths() -> Vec<String> {
    let mut paths: Vec<String> = tollgate_cli::routes().into_iter().map(|(_, p)| p.to_string()).collect();
    paths.extend(
        ["/", "/success", "/dev/mailbox", "/dev/checkout/", "/dev/checkout/pay", "/dev/checkout//pay", "/dev/portal/"]
            .map(String::from),
    );
    paths
}

fn path_strategy() -> impl Strategy<Value = String> {
    let known = known_paths();
    prop_oneof![
        (proptest::sample::select(known.clone()), "[a-z0-9_/.%-]{0,12}").prop_map(|(p, tail)| format!("{p}{tail}")),
        (proptest::sample::select(known), 0usize..40).prop_map(|(p, cut)| {
            let cut = cut.min(p.len());
            p[..cut].to_string()
        }),
        "/[a-zA-Z0-9_/.%{}-]{0,40}",
    ]
}

fn method_strategy() -> impl Strategy<Value = &'static str> {
    proptest::sample::select(vec!["GET", "POST", "DELETE", "PUT", "PATCH", "HEAD"])
}

fn assert_well_formed(status: u16, content_type: &str, body: &[u8], what: &str) {
    assert!(status < 500, "{what}: a server error {status}: {}", String::from_utf8_lossy(body));
    if status >= 400 && content_type.starts_with("application/json") {
        let json: Value = serde_json::from_slice(body).unwrap_or_else(|_| panic!("{what}: not JSON"));
        assert!(json["error"]["code"].is_string() && json["error"]["message"].is_string(), "{what}: {json}");
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn no_path_or_method_crashes_the_dev_server(method in method_strategy(), path in path_strategy(), query in "[a-z=&%0-9]{0,20}") {
        let rt = runtime();
        let t = testing::app(tollgate::store::Store::memory(), None, &[]);
        let uri = if query.is_empty() { path.clone() } else { format!("{path}?{query}") };
        let Ok(uri) = uri.parse::<lambda_http::http::Uri>() else { return Ok(()) };
        let request = raw_request(method, &uri.to_string(), &[], vec![], testing::CALLER_IP);
        let response = rt.block_on(dispatch(&t.app, request));
        let status = response.status().as_u16();
        let content_type = response.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
        let body = rt.block_on(http_body_util::BodyExt::collect(response.into_body())).unwrap().to_bytes();
        assert_well_formed(status, &content_type, &body, &format!("{method} {uri}"));
    }
}

#[tokio::test]
async fn the_paths_that_once_aborted_the_dev_server_are_404s() {
    let t = testing::app(tollgate::store::Store::memory(), None, &[]);
    for path in ["/dev/checkout/pay", "/dev/checkout//pay", "/dev/checkout/x/y/pay", "/dev/portal//x/cancel"] {
        let response = dispatch(&t.app, raw_request("POST", path, &[], vec![], testing::CALLER_IP)).await;
        assert_eq!(response.status().as_u16(), 404, "{path}");
    }
}
