//! Drives Tollgate as its users do: every call goes through the real router (the handlers Lambda
//! runs), Stripe is the in-process simulation, and webhook deliveries are signed.

#![allow(dead_code)]

use std::sync::Arc;

use serde_json::{Value, json};
use tollgate::store::Store;
use tollgate::store::faults::Faults;
use tollgate::stripe::Simulator;
use tollgate_cli::route;
use tollgate_testkit::{self as testing, StoreKind, TestApp, last_code, request, status_and_json, webhook_request};

pub struct Harness {
    pub t: TestApp,
}

pub struct Bought {
    pub session_id: String,
    pub order_id: String,
}

impl Harness {
    pub async fn new(kind: StoreKind, overrides: &[(&str, &str)]) -> Self {
        Harness { t: testing::app(kind.store().await, None, overrides) }
    }

    /// A harness whose store misbehaves as the returned `Faults` say.
    pub async fn faulty(kind: StoreKind, overrides: &[(&str, &str)]) -> (Self, Arc<Faults>) {
        let faults = Arc::new(Faults::default());
        let store = Store::faulty(kind.store().await, faults.clone());
        (Harness { t: testing::app(store, None, overrides) }, faults)
    }

    pub fn sim(&self) -> &Simulator {
        self.t.app.stripe.simulator().expect("Stripe is simulated")
    }

    pub async fn call(&self, method: &str, path: &str, body: Option<Value>, token: Option<&str>) -> (u16, Value) {
        status_and_json(&route(&self.t.app, request(method, path, body.as_ref(), token)).await)
    }

    /// Signs in with an emailed code: (token, user id).
    pub async fn sign_in(&self, email: &str) -> (String, String) {
        let (status, body) = self.call("POST", "/api/auth/request-code", Some(json!({ "email": email })), None).await;
        assert_eq!(status, 202, "{body}");
        let code = last_code(&self.t.outbox, email);
        let (status, body) =
            self.call("POST", "/api/auth/verify-code", Some(json!({ "email": email, "code": code })), None).await;
        assert_eq!(status, 200, "{body}");
        (body["token"].as_str().expect("a token").to_string(), body["user"]["id"].as_str().unwrap().to_string())
    }

    /// Opens a checkout for `what` (`{"plan":"pro"}`, `{"pack":"credits_100"}`, ...).
    pub async fn checkout(&self, token: Option<&str>, what: Value) -> Bought {
        let (status, body) = self.call("POST", "/api/checkout/create", Some(what), token).await;
        assert_eq!(status, 200, "{body}");
        Bought {
            session_id: body["session_id"].as_str().unwrap().to_string(),
            order_id: body["order_id"].as_str().unwrap().to_string(),
        }
    }

    /// The events paying the session makes, not yet delivered.
    pub fn pay(&self, bought: &Bought) -> Vec<Vec<u8>> {
        self.sim().pay(&bought.session_id, self.t.app.now()).expect("an open session")
    }

    pub async fn deliver(&self, body: &[u8]) -> (u16, Value) {
        status_and_json(&route(&self.t.app, webhook_request(body, self.t.app.now())).await)
    }

    /// Delivers each event and expects Stripe to be told 200.
    pub async fn deliver_all(&self, bodies: &[Vec<u8>]) {
        for body in bodies {
            let (status, answer) = self.deliver(body).await;
            assert_eq!(status, 200, "{answer}");
        }
    }

    /// A signed-in call; when a refund or dispute revoked the token, again with the one the user
    /// gets by signing in again (what the user holds is the question; revocation.rs tests
    /// revocation).
    async fn call_as_user(&self, path: &str, token: &str) -> (u16, Value) {
        let answer = self.call("GET", path, None, Some(token)).await;
        if answer.1["error"]["code"] != "token_revoked" {
            return answer;
        }
        let claims = self.t.app.tokens.verify(token, self.t.app.now()).expect("a token that was valid");
        let (fresh, _) =
            tollgate::domain::entitlements::token_for(&self.t.app, &claims.sub, &claims.email).await.unwrap();
        self.call("GET", path, None, Some(&fresh)).await
    }

    pub async fn balance(&self, token: &str) -> i64 {
        let (status, body) = self.call_as_user("/api/credits", token).await;
        assert_eq!(status, 200, "{body}");
        body["balance"].as_i64().unwrap()
    }

    pub async fn plan(&self, token: &str) -> String {
        let (status, body) = self.call_as_user("/api/entitlements", token).await;
        assert_eq!(status, 200, "{body}");
        body["plan"].as_str().unwrap().to_string()
    }

    /// The principal subscription's id, from the entitlements.
    pub async fn subscription_id(&self, token: &str) -> String {
        let (_, body) = self.call("GET", "/api/entitlements", None, Some(token)).await;
        body["subscription"]["id"].as_str().unwrap_or_else(|| panic!("no subscription in {body}")).to_string()
    }
}

/// The payment intent an `invoice_payment.paid` event names, if `body` is one.
pub fn paid_invoice_payment(body: &[u8]) -> Option<String> {
    let event: Value = serde_json::from_slice(body).ok()?;
    (event["type"] == "invoice_payment.paid")
        .then(|| event.pointer("/data/object/payment/payment_intent")?.as_str().map(str::to_string))
        .flatten()
}

/// A Stripe event body with a chosen type, id and object (for hand-made deliveries).
pub fn event_body(id: &str, event_type: &str, object: Value) -> Vec<u8> {
    testing::event_with_id(id, event_type, object)
}
