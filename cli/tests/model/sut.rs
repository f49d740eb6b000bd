//! The system under test: two app instances over one store, Stripe simulated, real handlers;
//! each step applied to it, and its state checked against the model's.

use super::*;

// ---------------------------------------------------------------------------------------------
// The system under test: two app instances over one store, Stripe simulated, real handlers.

thread_local! {
    pub(super) static STORE_KIND: Cell<StoreKind> = const { Cell::new(StoreKind::Memory) };
}

struct Bought {
    session_id: String,
    order_id: String,
    payment_intent: String,
}

pub(super) struct Tollgate {
    rt: tokio::runtime::Runtime,
    apps: [App; 2],
    tokens: [String; 2],
    users: [String; 2],
    admin: String,
    bought: Vec<Bought>,
    subs: [Option<String>; 2],
    invoice_payments: [Vec<Option<String>>; 2],
    pending: Vec<Vec<u8>>,
    delivered: Vec<Vec<u8>>,
    keys: HashMap<KeyRef, String>,
    /// Webhook deliveries and sign-ins made: what the admin metrics must count.
    deliveries: i64,
    sign_ins: i64,
}

impl Tollgate {
    fn call(&self, via: usize, method: &str, path: &str, body: Option<Value>, token: Option<&str>) -> (u16, Value) {
        let app = &self.apps[via];
        self.rt.block_on(async {
            status_and_json(&tollgate_cli::route(app, request(method, path, body.as_ref(), token)).await)
        })
    }

    fn deliver(&self, via: usize, body: &[u8]) {
        let app = &self.apps[via];
        let (status, answer) = self
            .rt
            .block_on(async { status_and_json(&tollgate_cli::route(app, webhook_request(body, app.now())).await) });
        let event: Value = serde_json::from_slice(body).unwrap();
        if std::env::var_os("TOLLGATE_MODEL_TRACE").is_some() {
            eprintln!("  delivered {} via {via}: {answer}", event["type"]);
        }
        assert_eq!(status, 200, "{} answered {status}: {answer}", event["type"]);
    }

    /// Signs in with an emailed code through instance `via`: (token, user id).
    fn sign_in(&self, via: usize, email: &str) -> (String, String) {
        let (status, body) = self.call(via, "POST", "/api/auth/request-code", Some(json!({ "email": email })), None);
        assert_eq!(status, 202, "{body}");
        let code = body["debug_code"].as_str().expect("DEBUG_AUTH_CODES in the model's apps").to_string();
        let body = json!({ "email": email, "code": code });
        let (status, body) = self.call(via, "POST", "/api/auth/verify-code", Some(body), None);
        assert_eq!(status, 200, "{body}");
        (body["token"].as_str().unwrap().to_string(), body["user"]["id"].as_str().unwrap().to_string())
    }

    fn sim(&self) -> &tollgate::stripe::Simulator {
        self.apps[0].stripe.simulator().expect("simulated Stripe")
    }

    fn now(&self) -> i64 {
        self.apps[0].now()
    }

    /// Opens and pays a checkout; a one-time purchase is remembered (index-aligned with the model).
    fn checkout(&mut self, via: usize, user: usize, body: Value, token: bool) -> Vec<Vec<u8>> {
        let one_time = body.get("interval").is_none();
        let token = token.then(|| self.tokens[user].clone());
        let (status, answer) = self.call(via, "POST", "/api/checkout/create", Some(body), token.as_deref());
        assert_eq!(status, 200, "{answer}");
        let session_id = answer["session_id"].as_str().unwrap().to_string();
        let events = self.sim().pay(&session_id, self.now()).expect("an open session");
        if one_time {
            self.bought.push(Bought {
                payment_intent: self.sim().payment_intent(&session_id).unwrap_or_default(),
                order_id: answer["order_id"].as_str().unwrap().to_string(),
                session_id,
            });
        }
        events
    }

    fn key_text(&mut self, user: usize, key: &KeyRef) -> String {
        if let Some(text) = self.keys.get(key) {
            return text.clone();
        }
        let text = match key {
            KeyRef::Fresh(n) => format!("model-key-{n}"),
            KeyRef::Hostile(p, kind) => format!("{kind}:{}", self.bought[*p].order_id),
        };
        let _ = user;
        self.keys.insert(key.clone(), text.clone());
        text
    }
}

impl StateMachineTest for Tollgate {
    type SystemUnderTest = Tollgate;
    type Reference = Reference;

    fn init_test(_: &Model) -> Tollgate {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let kind = STORE_KIND.with(Cell::get);
        let store = rt.block_on(kind.store());
        // Sign-ins are operations here: the rate limits (tested on their own) are out of reach.
        let vars = [
            ("ADMIN_EMAILS", ADMIN),
            ("RATE_LIMIT_EMAIL", "100000"),
            ("RATE_LIMIT_IP", "100000"),
            ("SIGN_IN_ATTEMPTS_PER_DAY", "100000"),
            ("DEBUG_AUTH_CODES", "1"),
        ];
        let first = testing::app(store.clone(), None, &vars);
        let mut second = testing::app(store, None, &vars).app;
        second.stripe = first.app.stripe.clone();
        second.clock = first.app.clock.clone();
        let sign_in = |email: &str| -> (String, String) {
            rt.block_on(async {
                let app = &first.app;
                let body = json!({ "email": email });
                tollgate_cli::route(app, request("POST", "/api/auth/request-code", Some(&body), None)).await;
                let code = testing::last_code(&first.outbox, email);
                let body = json!({ "email": email, "code": code });
                let (_, body) = status_and_json(
                    &tollgate_cli::route(app, request("POST", "/api/auth/verify-code", Some(&body), None)).await,
                );
                (body["token"].as_str().unwrap().to_string(), body["user"]["id"].as_str().unwrap().to_string())
            })
        };
        let (ann, bob, admin) = (sign_in(EMAILS[0]), sign_in(EMAILS[1]), sign_in(ADMIN));
        Tollgate {
            apps: [first.app, second],
            tokens: [ann.0, bob.0],
            users: [ann.1, bob.1],
            admin: admin.0,
            rt,
            bought: vec![],
            subs: [None, None],
            invoice_payments: [vec![], vec![]],
            pending: vec![],
            delivered: vec![],
            keys: HashMap::new(),
            deliveries: 0,
            sign_ins: 3,
        }
    }

    fn apply(mut sut: Tollgate, model: &Model, step: Step) -> Tollgate {
        if std::env::var_os("TOLLGATE_MODEL_TRACE").is_some() {
            eprintln!("{:?} via {}", step.op, step.via);
        }
        let via = step.via;
        let now = sut.now();
        let mut status = 200;
        if let Some(user) = model.renewed {
            let (status, answer) = sut.call(via, "GET", "/api/credits", None, Some(&sut.tokens[user].clone()));
            assert_eq!((status, answer["error"]["code"].as_str()), (401, Some("token_revoked")), "{:?}", step.op);
            let (token, _) = sut.sign_in(via, EMAILS[user]);
            sut.sign_ins += 1;
            sut.tokens[user] = token;
        }
        match step.op {
            Op::BuyPro { user, anonymous } => {
                let body =
                    if anonymous { json!({ "plan": "pro", "email": EMAILS[user] }) } else { json!({ "plan": "pro" }) };
                let events = sut.checkout(via, user, body, !anonymous);
                sut.pending.extend(events);
            }
            Op::BuyPack { user } => {
                let events = sut.checkout(via, user, json!({ "pack": "credits_100" }), true);
                sut.pending.extend(events);
            }
            Op::Subscribe { user } => {
                let events = sut.checkout(via, user, json!({ "plan": "pro", "interval": "month" }), true);
                let created: Value = serde_json::from_slice(&events[1]).unwrap();
                sut.subs[user] = Some(created["data"]["object"]["id"].as_str().unwrap().to_string());
                assert_eq!(events.len(), 3, "a trial: no payment");
                sut.invoice_payments[user].push(None);
                sut.pending.extend(events);
            }
            Op::Renew { user } => {
                let sub = sut.subs[user].clone().unwrap();
                let events = sut.sim().renew(&sub, now).unwrap();
                sut.invoice_payments[user].push(support::paid_invoice_payment(&events[2]));
                sut.pending.extend(events);
            }
            Op::Prorate { user } => {
                let sub = sut.subs[user].clone().unwrap();
                let events = sut.sim().prorate(&sub, 300, now).unwrap();
                sut.invoice_payments[user].push(support::paid_invoice_payment(&events[1]));
                sut.pending.extend(events);
            }
            Op::SignIn { user } => {
                let (token, id) = sut.sign_in(via, EMAILS[user]);
                assert_eq!(id, sut.users[user], "one user per email");
                sut.sign_ins += 1;
                sut.tokens[user] = token;
            }
            Op::Cancel { user } => {
                let sub = sut.subs[user].clone().unwrap();
                let event = sut.sim().cancel(&sub, false, now).unwrap();
                sut.pending.push(event);
            }
            Op::Deliver { pick } => {
                let body = sut.pending.remove(pick % sut.pending.len());
                sut.deliver(via, &body);
                sut.deliveries += 1;
                sut.delivered.push(body);
            }
            Op::Redeliver { pick } => {
                let body = sut.delivered[pick % sut.delivered.len()].clone();
                sut.deliver(via, &body);
                sut.deliveries += 1;
            }
            Op::ClaimSession { purchase: p } => {
                let buyer = model.purchases[p].buyer;
                let body = json!({ "session_id": sut.bought[p].session_id });
                let token = sut.tokens[buyer].clone();
                status = sut.call(via, "POST", "/api/pro/claim", Some(body), Some(&token)).0;
            }
            Op::ClaimEmail { user } => {
                let token = sut.tokens[user].clone();
                status = sut.call(via, "POST", "/api/pro/claim", Some(json!({})), Some(&token)).0;
            }
            Op::Refund { purchase: p } => {
                let event = sut.sim().refund_payment(&sut.bought[p].payment_intent, now);
                sut.pending.push(event);
            }
            Op::DisputeOpen { purchase: p } => {
                let event = sut.sim().dispute(&format!("dp_model{p}"), &sut.bought[p].payment_intent, None, now);
                sut.pending.push(event);
            }
            Op::DisputeClose { purchase: p, won } => {
                let event = sut.sim().dispute(&format!("dp_model{p}"), &sut.bought[p].payment_intent, Some(won), now);
                sut.pending.push(event);
            }
            Op::RefundInvoice { user, invoice } => {
                let payment = sut.invoice_payments[user][invoice].clone().expect("a paid invoice's payment");
                let event = sut.sim().refund_payment(&payment, now);
                sut.pending.push(event);
            }
            Op::Debit { user, amount, ref key } => {
                let mut body = json!({ "amount": amount, "reason": "model" });
                if let Some(k) = key {
                    body["idempotency_key"] = json!(sut.key_text(user, k));
                }
                let token = sut.tokens[user].clone();
                status = sut.call(via, "POST", "/api/credits/debit", Some(body), Some(&token)).0;
            }
            Op::AdminGrant { user, amount } => {
                let body = json!({ "user_id": sut.users[user], "amount": amount, "reason": "model" });
                let admin = sut.admin.clone();
                status = sut.call(via, "POST", "/api/admin/credits/grant", Some(body), Some(&admin)).0;
            }
        }
        assert_eq!(status, model.expect, "the answer to {:?}", step.op);
        sut
    }

    fn check_invariants(sut: &Tollgate, model: &Model) {
        for (user, email) in EMAILS.iter().enumerate() {
            let (status, page) = sut.call(0, "GET", "/api/credits", None, Some(&sut.tokens[user]));
            if model.revoked[user] {
                assert_eq!((status, page["error"]["code"].as_str()), (401, Some("token_revoked")), "{email}");
            } else {
                assert_eq!(status, 200, "{email}: a token nothing revoked works: {page}");
            }
            // What the user holds, through a token of their current version.
            let (current, _) = sut
                .rt
                .block_on(tollgate::domain::entitlements::token_for(&sut.apps[0], &sut.users[user], email))
                .unwrap();
            let (status, page) = sut.call(0, "GET", "/api/credits", None, Some(&current));
            assert_eq!(status, 200, "{page}");
            let balance = page["balance"].as_i64().unwrap();
            let ledger = sut.rt.block_on(credits::ledger(&sut.apps[0], &sut.users[user])).unwrap();
            let sum: i64 = ledger.iter().map(|e| e.delta).sum();
            assert_eq!(balance, sum, "{}: the balance is the sum of the ledger", email);
            assert!(balance >= 0, "{}: never below zero", email);
            assert_eq!(balance, model.balance[user], "{}: the balance the model expects", email);
            let subscription_entries = ledger.iter().filter(|e| e.reason == Reason::Subscription).count();
            assert_eq!(
                subscription_entries,
                model.credited_invoices(user),
                "{}: credits only for paid periods, once each",
                email
            );
            let (_, ent) = sut.call(0, "GET", "/api/entitlements", None, Some(&current));
            assert_eq!(ent["plan"], model.plan(user), "{}: the plan the model expects", email);
        }
        check_metrics(sut, model);
    }
}

/// The admin metrics' counters, kept by the changes themselves, against what the store holds and
/// what the sequence did: every delivery and sign-in counted once, the credits outstanding equal
/// to the balances, the subscriptions by plan and status, paying and MRR equal to the records.
fn check_metrics(sut: &Tollgate, model: &Model) {
    let (status, metrics) = sut.call(1, "GET", "/api/admin/metrics", None, Some(&sut.admin));
    assert_eq!(status, 200, "{metrics}");
    assert_eq!(metrics["webhooks"]["totals"]["received"], sut.deliveries, "every delivery counted once: {metrics}");
    assert_eq!(metrics["sign_ins"]["totals"]["sign_ins"], sut.sign_ins, "{metrics}");
    assert_eq!(metrics["credits"]["outstanding"], model.balance.iter().sum::<i64>(), "{metrics}");
    let store = &sut.apps[0].store;
    let records: Vec<_> = sut
        .users
        .iter()
        .flat_map(|u| sut.rt.block_on(tollgate::store::schema::subscriptions::of(store, u)).unwrap())
        .collect();
    let mut by_plan = serde_json::Map::new();
    for r in &records {
        let plan = by_plan.entry(r.plan.clone()).or_insert_with(|| json!({}));
        let n = plan[&r.status].as_i64().unwrap_or(0);
        plan[&r.status] = json!(n + 1);
    }
    let subs = &metrics["subscriptions"];
    assert_eq!(subs["by_plan"], Value::Object(by_plan), "{metrics}");
    let paying: Vec<_> = records.iter().filter(|r| r.is_paying()).collect();
    assert_eq!(subs["paying"], paying.len() as i64, "{metrics}");
    let mrr: i64 = paying.iter().map(|r| r.monthly_amount()).sum();
    assert_eq!(subs["mrr"]["usd"].as_i64().unwrap_or(0), mrr, "{metrics}");
}
