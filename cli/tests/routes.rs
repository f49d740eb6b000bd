//! One route table: what template.yaml deploys, what the functions' routers serve and what the
//! dev server lists are the same routes, function by function.

use std::collections::{BTreeMap, BTreeSet};

use tollgate_cli::FUNCTIONS;
use tollgate_testkit::{self as testing, raw_request};

/// template.yaml's resources of type function: name -> its HttpApi events' (method, path), and
/// whether it has a function URL.
fn deployed() -> BTreeMap<String, (BTreeSet<(String, String)>, bool)> {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../template.yaml")).unwrap();
    let mut functions: BTreeMap<String, (BTreeSet<(String, String)>, bool)> = BTreeMap::new();
    let mut current: Option<String> = None;
    let mut path: Option<String> = None;
    for line in text.lines() {
        // A resource: two spaces of indent, a name, a colon.
        if line.starts_with("  ") && !line.starts_with("   ") && line.trim_end().ends_with(':') {
            let name = line.trim().trim_end_matches(':').to_string();
            current = name.ends_with("Function").then_some(name);
            continue;
        }
        let Some(function) = &current else { continue };
        let entry = functions.entry(function.clone()).or_default();
        let trimmed = line.trim();
        if trimmed == "FunctionUrlConfig:" {
            entry.1 = true;
        } else if let Some(p) = trimmed.strip_prefix("Path: ") {
            path = Some(p.to_string());
        } else if let Some(method) = trimmed.strip_prefix("Method: ") {
            let path = path.take().expect("Path comes before Method in every HttpApi event");
            entry.0.insert((method.to_uppercase(), path));
        }
    }
    functions
}

#[test]
fn template_yaml_deploys_exactly_the_routers_routes() {
    let deployed = deployed();
    for (function, routes) in FUNCTIONS {
        let served: BTreeSet<(String, String)> =
            routes.iter().map(|r| (r.method.to_string(), r.path.to_string())).collect();
        let (events, url) = deployed.get(function).unwrap_or_else(|| panic!("template.yaml has no {function}"));
        if function == "WebhookFunction" {
            // Stripe calls its function URL (any path); locally it is the one route.
            assert!(*url && events.is_empty(), "the webhook is served by a function URL");
            assert_eq!(served.len(), 1);
        } else {
            assert_eq!(events, &served, "{function}: template.yaml's HttpApi events and the router's table differ");
        }
    }
    let http_functions: BTreeSet<&str> =
        deployed.iter().filter(|(_, (events, _))| !events.is_empty()).map(|(name, _)| name.as_str()).collect();
    let tabled: BTreeSet<&str> = FUNCTIONS.iter().map(|(name, _)| *name).collect();
    assert!(http_functions.is_subset(&tabled), "every function with routes has a table: {http_functions:?}");
}

#[tokio::test]
async fn every_route_is_routed_on_the_dev_server_and_listed_at_its_start() {
    let t = testing::app(tollgate::store::Store::memory(), None, &[]);
    let listed = tollgate_cli::dev::all_routes();
    for (method, path) in tollgate_cli::routes() {
        assert!(listed.contains(&(method, path)), "the dev server lists {method} {path}");
        let concrete = path.replace("{id}", "ses_x").replace("{feature}", "quizzes");
        let response =
            tollgate_cli::dev::dispatch(&t.app, raw_request(method, &concrete, &[], vec![], testing::CALLER_IP)).await;
        let status = response.status().as_u16();
        let body = http_body_util::BodyExt::collect(response.into_body()).await.unwrap().to_bytes();
        let text = String::from_utf8_lossy(&body);
        assert!(!text.contains("route_not_found") && status != 405, "{method} {concrete}: {status} {text}");
    }
    let text = tollgate_cli::dev::welcome_text(&t.app);
    for (method, path) in listed {
        assert!(text.contains(&format!("{method:<5} {path}\n")), "the terminal lists {method} {path}");
    }
}

#[tokio::test]
async fn another_method_is_405_and_an_unknown_path_404_in_the_envelope() {
    let t = testing::app(tollgate::store::Store::memory(), None, &[]);
    let wrong =
        tollgate_cli::route(&t.app, raw_request("DELETE", "/api/credits", &[], vec![], testing::CALLER_IP)).await;
    let (status, body) = testing::status_and_json(&wrong);
    assert_eq!((status, body["error"]["code"].as_str()), (405, Some("method_not_allowed")));
    let unknown =
        tollgate_cli::route(&t.app, raw_request("GET", "/api/nothing", &[], vec![], testing::CALLER_IP)).await;
    let (status, body) = testing::status_and_json(&unknown);
    assert_eq!((status, body["error"]["code"].as_str()), (404, Some("route_not_found")));
}
