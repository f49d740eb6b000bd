//! The reference state machine: which steps may come next, and what each does to the model.

use super::*;

pub(super) struct Reference;

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
        state.renewed = None;
        match step.op {
            Op::BuyPro { user, anonymous: false }
            | Op::BuyPack { user }
            | Op::Subscribe { user }
            | Op::ClaimEmail { user }
            | Op::Debit { user, .. } => state.use_token(user),
            Op::ClaimSession { purchase: p } => state.use_token(state.purchases[p].buyer),
            Op::SignIn { user } => state.revoked[user] = false,
            _ => {}
        }
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

pub(super) fn purchase(buyer: usize, product: Product, anonymous: bool) -> Purchase {
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

pub(super) fn invoice(amount: i64, period: bool) -> Invoice {
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
