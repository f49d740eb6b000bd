//! Money invariants, proven against a reference model. proptest-state-machine generates random
//! sequences of what users, Stripe and attackers do (one-time and pack checkouts, anonymous
//! purchases claimed by session or by email, subscriptions with their trial's $0 invoice,
//! renewals and cancellations, refunds and disputes of purchases and invoices, debits with fresh,
//! repeated and hostile keys, administrators' grants), delivers Stripe's events in any order,
//! twice, and through two app instances sharing one store, all through the real router. After
//! every step each user's plan and balance equal the model's, the balance equals the sum of the
//! ledger and is never negative, and subscription credits match the paid periods.
//!
//! `TOLLGATE_MODEL_SEED` replays a run; `TOLLGATE_MODEL_CASES` sets how many sequences (the long
//! run: `make model-long`).

mod support;

use std::cell::Cell;
use std::collections::HashMap;

use proptest::prelude::*;
use proptest::test_runner::{Config, RngSeed, TestRunner};
use proptest_state_machine::{ReferenceStateMachine, StateMachineTest};
use serde_json::{Value, json};
use tollgate::App;
use tollgate::domain::credits;
use tollgate::store::schema::Reason;
use tollgate_testkit::{self as testing, StoreKind, request, status_and_json, webhook_request};

const EMAILS: [&str; 2] = ["ann@example.com", "bob@example.com"];
const ADMIN: &str = "admin@example.com";
const PACK: i64 = 100;
const PERIOD_CREDITS: i64 = 200;

// ---------------------------------------------------------------------------------------------
// The reference model: what Tollgate must do, as plain data.

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Product {
    Pro,
    Pack,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Cause {
    Refund,
    Dispute,
}

#[derive(Clone, Debug)]
struct Purchase {
    buyer: usize,
    product: Product,
    anonymous: bool,
    recorded: bool,
    /// An anonymous purchase moved to its buyer's account.
    moved: bool,
    reversed: Option<Cause>,
    /// A reversal that came before the purchase was recorded.
    reversed_first: Option<Cause>,
    taken_back: i64,
    dispute_won_seen: bool,
    refund_sent: bool,
    dispute_opened: bool,
    dispute_closed: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum SubStatus {
    Trialing,
    Active,
    Canceled,
}

#[derive(Clone, Debug)]
struct Invoice {
    amount: i64,
    /// Pays for a period (the first invoice or a renewal), not a proration.
    period: bool,
    paid_delivered: bool,
    linked: bool,
    credited: bool,
    reversed: bool,
    reversed_first: bool,
    refund_sent: bool,
    /// Its payment's refund arrived before the payment was linked to it.
    refunded_unlinked: bool,
}

#[derive(Clone, Debug)]
struct Sub {
    /// What Stripe holds now.
    stripe: SubStatus,
    /// What Tollgate stored (None: nothing yet).
    stored: Option<SubStatus>,
    invoices: Vec<Invoice>,
}

/// A Stripe event waiting to be delivered (index-aligned with the bodies the test holds).
#[derive(Clone, Debug)]
enum Ev {
    Paid(usize),
    Refund(usize),
    DisputeOpened(usize),
    DisputeClosed(usize, bool),
    SubCompleted(usize),
    SubSnapshot(usize, SubStatus),
    InvoicePaid(usize, usize),
    InvoicePayment(usize, usize),
    InvoiceRefund(usize, usize),
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum KeyRef {
    Fresh(usize),
    /// Shaped like Tollgate's own keys for a purchase's order (`refund:<order>`, ...).
    Hostile(usize, &'static str),
}

#[derive(Clone, Debug)]
enum Op {
    BuyPro { user: usize, anonymous: bool },
    BuyPack { user: usize },
    Subscribe { user: usize },
    Renew { user: usize },
    Prorate { user: usize },
    Cancel { user: usize },
    SignIn { user: usize },
    Deliver { pick: usize },
    Redeliver { pick: usize },
    ClaimSession { purchase: usize },
    ClaimEmail { user: usize },
    Refund { purchase: usize },
    DisputeOpen { purchase: usize },
    DisputeClose { purchase: usize, won: bool },
    RefundInvoice { user: usize, invoice: usize },
    Debit { user: usize, amount: i64, key: Option<KeyRef> },
    AdminGrant { user: usize, amount: i64 },
}

#[derive(Clone, Debug)]
struct Step {
    op: Op,
    /// Which of the two app instances serves it.
    via: usize,
}

#[derive(Clone, Debug, Default)]
struct Model {
    purchases: Vec<Purchase>,
    subs: [Option<Sub>; 2],
    pending: Vec<Ev>,
    delivered: Vec<Ev>,
    balance: [i64; 2],
    keys: [HashMap<KeyRef, i64>; 2],
    fresh_keys: usize,
    /// The status the last step's request must answer.
    expect: u16,
}

impl Model {
    fn plan(&self, user: usize) -> &'static str {
        let bought = self.purchases.iter().any(|p| {
            p.buyer == user
                && p.product == Product::Pro
                && p.recorded
                && p.reversed.is_none()
                && (!p.anonymous || p.moved)
        });
        let subscribed =
            self.subs[user].as_ref().is_some_and(|s| matches!(s.stored, Some(SubStatus::Trialing | SubStatus::Active)));
        if bought || subscribed { "pro" } else { "free" }
    }

    fn credited_invoices(&self, user: usize) -> usize {
        self.subs[user].as_ref().map_or(0, |s| s.invoices.iter().filter(|i| i.credited).count())
    }

    /// Records a purchase (by its paid event, or a claim that asked Stripe first).
    fn record(&mut self, p: usize, claimed: bool) {
        let purchase = &mut self.purchases[p];
        purchase.recorded = true;
        purchase.moved |= claimed;
        match purchase.reversed_first {
            Some(cause) => {
                purchase.reversed = Some(cause);
                if purchase.product == Product::Pack {
                    purchase.taken_back = PACK;
                }
            }
            None if purchase.product == Product::Pack => self.balance[purchase.buyer] += PACK,
            None => {}
        }
    }

    fn reverse(&mut self, p: usize, cause: Cause) {
        let purchase = &mut self.purchases[p];
        if cause == Cause::Dispute && purchase.dispute_won_seen {
            return;
        }
        if !purchase.recorded {
            purchase.reversed_first.get_or_insert(cause);
            return;
        }
        if purchase.reversed.is_some() {
            return;
        }
        purchase.reversed = Some(cause);
        if purchase.product == Product::Pack {
            let taken = PACK.min(self.balance[purchase.buyer]);
            self.balance[purchase.buyer] -= taken;
            purchase.taken_back = taken;
        }
    }

    fn restore(&mut self, p: usize) {
        let purchase = &mut self.purchases[p];
        let by_dispute = if purchase.recorded {
            purchase.reversed == Some(Cause::Dispute)
        } else {
            purchase.reversed_first == Some(Cause::Dispute)
        };
        if !by_dispute {
            purchase.dispute_won_seen = true;
            return;
        }
        if !purchase.recorded {
            purchase.reversed_first = None;
            return;
        }
        purchase.reversed = None;
        purchase.reversed_first = None;
        if purchase.product == Product::Pack {
            self.balance[purchase.buyer] += purchase.taken_back;
        }
        purchase.taken_back = 0;
    }

    /// A refund that reaches an invoice: its period's credits taken back, or withheld if they
    /// are still to come.
    fn reverse_invoice(&mut self, u: usize, i: usize) {
        let invoice = &mut self.subs[u].as_mut().expect("a subscription").invoices[i];
        if invoice.credited && !invoice.reversed {
            invoice.reversed = true;
            let taken = PERIOD_CREDITS.min(self.balance[u]);
            self.balance[u] -= taken;
        } else if !invoice.paid_delivered {
            invoice.reversed_first = true;
        }
    }

    fn deliver(&mut self, ev: &Ev) {
        match *ev {
            Ev::Paid(p) => {
                if !self.purchases[p].recorded {
                    self.record(p, false);
                }
            }
            Ev::Refund(p) => self.reverse(p, Cause::Refund),
            Ev::DisputeOpened(p) => self.reverse(p, Cause::Dispute),
            Ev::DisputeClosed(p, false) => self.reverse(p, Cause::Dispute),
            Ev::DisputeClosed(p, true) => self.restore(p),
            Ev::SubCompleted(u) => {
                let sub = self.subs[u].as_mut().expect("a subscription");
                sub.stored = Some(sub.stripe);
            }
            Ev::SubSnapshot(u, status) => {
                let sub = self.subs[u].as_mut().expect("a subscription");
                // The first snapshot is stored as it is; every later one ties (one clock) and
                // Stripe's current state is fetched and stored instead.
                sub.stored = Some(if sub.stored.is_none() { status } else { sub.stripe });
            }
            Ev::InvoicePaid(u, i) => {
                let invoice = &mut self.subs[u].as_mut().expect("a subscription").invoices[i];
                invoice.paid_delivered = true;
                if invoice.amount > 0 && invoice.period && !invoice.reversed_first {
                    invoice.credited = true;
                    self.balance[u] += PERIOD_CREDITS;
                }
            }
            Ev::InvoicePayment(u, i) => {
                let invoice = &mut self.subs[u].as_mut().expect("a subscription").invoices[i];
                invoice.linked = true;
                if invoice.refunded_unlinked {
                    self.reverse_invoice(u, i);
                }
            }
            Ev::InvoiceRefund(u, i) => {
                let invoice = &mut self.subs[u].as_mut().expect("a subscription").invoices[i];
                if invoice.linked {
                    self.reverse_invoice(u, i);
                } else {
                    // Only the payment is known: the link, when it comes, applies the refund.
                    invoice.refunded_unlinked = true;
                }
            }
        }
    }
}

struct Reference;

fn user() -> impl Strategy<Value = usize> {
    0..EMAILS.len()
}

impl ReferenceStateMachine for Reference {
    type State = Model;
    type Transition = Step;

    fn init_state() -> BoxedStrategy<Model> {
        Just(Model::default()).boxed()
    }

    fn transitions(state: &Model) -> BoxedStrategy<Step> {
        let purchases = state.purchases.len().max(1);
        let key = {
            let hostile = (0..purchases, prop::sample::select(vec!["refund", "order", "reversal"]))
                .prop_map(|(p, kind)| Some(KeyRef::Hostile(p, kind)));
            let used: Vec<KeyRef> = state.keys.iter().flat_map(|k| k.keys().cloned()).collect();
            let repeat =
                if used.is_empty() { Just(None).boxed() } else { prop::sample::select(used).prop_map(Some).boxed() };
            let fresh = state.fresh_keys;
            prop_oneof![2 => Just(None), 3 => Just(Some(KeyRef::Fresh(fresh))), 2 => repeat, 2 => hostile]
        };
        // Only operations that can apply now, so few are rejected.
        let has_purchases = !state.purchases.is_empty();
        let mut ops: Vec<(u32, BoxedStrategy<Op>)> = vec![
            (3, (user(), any::<bool>()).prop_map(|(user, anonymous)| Op::BuyPro { user, anonymous }).boxed()),
            (3, user().prop_map(|user| Op::BuyPack { user }).boxed()),
            (1, user().prop_map(|user| Op::ClaimEmail { user }).boxed()),
            (1, user().prop_map(|user| Op::SignIn { user }).boxed()),
            (4, (user(), 1..80i64, key).prop_map(|(user, amount, key)| Op::Debit { user, amount, key }).boxed()),
            (
                1,
                (user(), -120..150i64)
                    .prop_filter("non-zero", |(_, a)| *a != 0)
                    .prop_map(|(user, amount)| Op::AdminGrant { user, amount })
                    .boxed(),
            ),
        ];
        if state.subs.iter().any(Option::is_none) {
            ops.push((2, user().prop_map(|user| Op::Subscribe { user }).boxed()));
        }
        if state.subs.iter().flatten().any(|s| s.stripe != SubStatus::Canceled) {
            ops.push((2, user().prop_map(|user| Op::Renew { user }).boxed()));
            ops.push((1, user().prop_map(|user| Op::Prorate { user }).boxed()));
            ops.push((1, user().prop_map(|user| Op::Cancel { user }).boxed()));
        }
        if !state.pending.is_empty() {
            ops.push((12, any::<usize>().prop_map(|pick| Op::Deliver { pick }).boxed()));
        }
        if !state.delivered.is_empty() {
            ops.push((2, any::<usize>().prop_map(|pick| Op::Redeliver { pick }).boxed()));
        }
        if has_purchases {
            ops.push((2, (0..purchases).prop_map(|purchase| Op::ClaimSession { purchase }).boxed()));
            ops.push((2, (0..purchases).prop_map(|purchase| Op::Refund { purchase }).boxed()));
            ops.push((1, (0..purchases).prop_map(|purchase| Op::DisputeOpen { purchase }).boxed()));
            ops.push((
                1,
                (0..purchases, any::<bool>()).prop_map(|(purchase, won)| Op::DisputeClose { purchase, won }).boxed(),
            ));
        }
        if state.subs.iter().flatten().any(|s| s.invoices.iter().any(|i| i.amount > 0 && !i.refund_sent)) {
            ops.push((1, (user(), 0..4usize).prop_map(|(user, invoice)| Op::RefundInvoice { user, invoice }).boxed()));
        }
        let op = proptest::strategy::Union::new_weighted(ops);
        (op, 0..2usize).prop_map(|(op, via)| Step { op, via }).boxed()
    }

    fn preconditions(state: &Model, step: &Step) -> bool {
        let purchase = |p: usize| state.purchases.get(p);
        match step.op {
            Op::Subscribe { user } => state.subs[user].is_none(),
            Op::Renew { user } | Op::Prorate { user } | Op::Cancel { user } => {
                state.subs[user].as_ref().is_some_and(|s| s.stripe != SubStatus::Canceled)
            }
            Op::Deliver { .. } => !state.pending.is_empty(),
            Op::Redeliver { .. } => !state.delivered.is_empty(),
            Op::ClaimSession { purchase: p } => purchase(p).is_some(),
            Op::Refund { purchase: p } => purchase(p).is_some_and(|p| !p.refund_sent),
            Op::DisputeOpen { purchase: p } => purchase(p).is_some_and(|p| !p.dispute_opened),
            Op::DisputeClose { purchase: p, .. } => purchase(p).is_some_and(|p| p.dispute_opened && !p.dispute_closed),
            Op::RefundInvoice { user, invoice } => state.subs[user]
                .as_ref()
                .and_then(|s| s.invoices.get(invoice))
                .is_some_and(|i| i.amount > 0 && !i.refund_sent),
            Op::Debit { key: Some(KeyRef::Hostile(p, _)), .. } => purchase(p).is_some(),
            _ => true,
        }
    }

    fn apply(mut state: Model, step: &Step) -> Model {
        state.expect = 200;
        match step.op {
            Op::BuyPro { user, anonymous } => {
                state.purchases.push(purchase(user, Product::Pro, anonymous));
                state.pending.push(Ev::Paid(state.purchases.len() - 1));
            }
            Op::BuyPack { user } => {
                state.purchases.push(purchase(user, Product::Pack, false));
                state.pending.push(Ev::Paid(state.purchases.len() - 1));
            }
            Op::Subscribe { user } => {
                state.subs[user] =
                    Some(Sub { stripe: SubStatus::Trialing, stored: None, invoices: vec![invoice(0, true)] });
                state.pending.extend([
                    Ev::SubCompleted(user),
                    Ev::SubSnapshot(user, SubStatus::Trialing),
                    Ev::InvoicePaid(user, 0),
                ]);
            }
            Op::Renew { user } => {
                let sub = state.subs[user].as_mut().expect("precondition");
                sub.stripe = SubStatus::Active;
                sub.invoices.push(invoice(900, true));
                let i = sub.invoices.len() - 1;
                state.pending.extend([
                    Ev::SubSnapshot(user, SubStatus::Active),
                    Ev::InvoicePaid(user, i),
                    Ev::InvoicePayment(user, i),
                ]);
            }
            Op::Prorate { user } => {
                let sub = state.subs[user].as_mut().expect("precondition");
                sub.invoices.push(invoice(300, false));
                let i = sub.invoices.len() - 1;
                state.pending.extend([Ev::InvoicePaid(user, i), Ev::InvoicePayment(user, i)]);
            }
            Op::SignIn { .. } => {}
            Op::Cancel { user } => {
                state.subs[user].as_mut().expect("precondition").stripe = SubStatus::Canceled;
                state.pending.push(Ev::SubSnapshot(user, SubStatus::Canceled));
            }
            Op::Deliver { pick } => {
                let ev = state.pending.remove(pick % state.pending.len());
                state.deliver(&ev);
                state.delivered.push(ev);
            }
            Op::Redeliver { .. } => {}
            Op::ClaimSession { purchase: p } => {
                let purchase = &state.purchases[p];
                if !purchase.recorded {
                    state.record(p, true);
                    state.expect = if state.purchases[p].reversed.is_some() { 409 } else { 200 };
                } else if purchase.reversed.is_some() {
                    state.expect = 409;
                } else {
                    state.purchases[p].moved = true;
                }
            }
            Op::ClaimEmail { user } => {
                for p in state.purchases.iter_mut().filter(|p| p.buyer == user && p.anonymous && p.recorded) {
                    p.moved = true;
                }
            }
            Op::Refund { purchase: p } => {
                state.purchases[p].refund_sent = true;
                state.pending.push(Ev::Refund(p));
            }
            Op::DisputeOpen { purchase: p } => {
                state.purchases[p].dispute_opened = true;
                state.pending.push(Ev::DisputeOpened(p));
            }
            Op::DisputeClose { purchase: p, won } => {
                state.purchases[p].dispute_closed = true;
                state.pending.push(Ev::DisputeClosed(p, won));
            }
            Op::RefundInvoice { user, invoice: i } => {
                state.subs[user].as_mut().expect("precondition").invoices[i].refund_sent = true;
                state.pending.push(Ev::InvoiceRefund(user, i));
            }
            Op::Debit { user, amount, ref key } => {
                if let Some(KeyRef::Fresh(n)) = key
                    && *n == state.fresh_keys
                {
                    state.fresh_keys += 1;
                }
                match key.as_ref().and_then(|k| state.keys[user].get(k)) {
                    Some(first) if *first == amount => {}
                    Some(_) => state.expect = 409,
                    None if state.balance[user] >= amount => {
                        state.balance[user] -= amount;
                        if let Some(k) = key {
                            state.keys[user].insert(k.clone(), amount);
                        }
                    }
                    None => state.expect = 402,
                }
            }
            Op::AdminGrant { user, amount } => state.balance[user] = (state.balance[user] + amount).max(0),
        }
        state
    }
}

fn purchase(buyer: usize, product: Product, anonymous: bool) -> Purchase {
    Purchase {
        buyer,
        product,
        anonymous,
        recorded: false,
        moved: false,
        reversed: None,
        reversed_first: None,
        taken_back: 0,
        dispute_won_seen: false,
        refund_sent: false,
        dispute_opened: false,
        dispute_closed: false,
    }
}

fn invoice(amount: i64, period: bool) -> Invoice {
    Invoice {
        amount,
        period,
        paid_delivered: false,
        linked: false,
        credited: false,
        reversed: false,
        reversed_first: false,
        refund_sent: false,
        refunded_unlinked: false,
    }
}

// ---------------------------------------------------------------------------------------------
// The system under test: two app instances over one store, Stripe simulated, real handlers.

thread_local! {
    static STORE_KIND: Cell<StoreKind> = const { Cell::new(StoreKind::Memory) };
}

struct Bought {
    session_id: String,
    order_id: String,
    payment_intent: String,
}

struct Tollgate {
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
        }
    }

    fn apply(mut sut: Tollgate, model: &Model, step: Step) -> Tollgate {
        if std::env::var_os("TOLLGATE_MODEL_TRACE").is_some() {
            eprintln!("{:?} via {}", step.op, step.via);
        }
        let via = step.via;
        let now = sut.now();
        let mut status = 200;
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
                sut.delivered.push(body);
            }
            Op::Redeliver { pick } => {
                let body = sut.delivered[pick % sut.delivered.len()].clone();
                sut.deliver(via, &body);
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
            let (_, ent) = sut.call(0, "GET", "/api/entitlements", None, Some(&sut.tokens[user]));
            assert_eq!(ent["plan"], model.plan(user), "{}: the plan the model expects", email);
        }
    }
}

/// Runs `cases` random sequences of up to `steps` steps on `kind`, from a printed seed.
fn run(kind: StoreKind, cases: u32, steps: usize) {
    let seed = std::env::var("TOLLGATE_MODEL_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or_else(rand_seed);
    let cases = std::env::var("TOLLGATE_MODEL_CASES").ok().and_then(|s| s.parse().ok()).unwrap_or(cases);
    eprintln!("model test on {kind:?}: {cases} cases, seed {seed} (replay: TOLLGATE_MODEL_SEED={seed})");
    STORE_KIND.with(|k| k.set(kind));
    let config = Config {
        cases,
        rng_seed: RngSeed::Fixed(seed),
        failure_persistence: None,
        // Preconditions still reject a few (a refund already sent, a key of no purchase yet).
        max_local_rejects: u32::MAX,
        ..Config::default()
    };
    let mut runner = TestRunner::new(config.clone());
    let result = runner.run(&Reference::sequential_strategy(1..steps), |(initial, transitions, seen)| {
        Tollgate::test_sequential(config.clone(), initial, transitions, seen);
        Ok(())
    });
    if let Err(e) = result {
        panic!("{e}\nreplay with TOLLGATE_MODEL_SEED={seed}");
    }
}

fn rand_seed() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos() as u64).unwrap_or(1)
}

#[test]
fn money_and_access_follow_the_model_in_memory() {
    run(StoreKind::Memory, 400, 40);
}

#[test]
fn money_and_access_follow_the_model_on_dynamodb() {
    run(StoreKind::DynamoDb, 24, 30);
}
