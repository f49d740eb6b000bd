//! The simulated Stripe Checkout page: what the session sells as Stripe's page shows it (the
//! product, the price and its interval, a trial and what follows it, a members' discount), the
//! buyer's email and one button that pays (`POST /dev/checkout/{session}/pay`).

use serde::Serialize;
use tollgate::App;
use tollgate::clock::{DAY, day_id};
use tollgate::domain::mail::money;
use tollgate::domain::users;
use tollgate::store::schema::orders;
use tollgate::stripe::client::CheckoutRequest;

use super::Page;
use super::pages::plain;

const PAGE: &str = r##"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{{ product }} · Checkout (simulated)</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body { margin: 0; font: 15px/1.5 system-ui, sans-serif; color: #1a1f36; background: #fff; }
.page { display: flex; flex-wrap: wrap; min-height: 100vh; }
.summary { flex: 1 1 22rem; background: #f6f9fc; padding: 3rem 3rem 2rem; }
.pay { flex: 1 1 22rem; padding: 3rem; max-width: 28rem; }
.merchant { color: #697386; font-weight: 600; margin-bottom: 2rem; }
.product { color: #697386; font-size: 16px; margin: 0; }
.amount { font-size: 36px; font-weight: 600; margin: .25rem 0; }
.amount small { font-size: 15px; color: #697386; font-weight: 400; }
.then, .discount { color: #697386; margin: 0; }
.badge { display: inline-block; background: #d7f7c2; color: #05690d; border-radius: 4px; padding: 0 .4rem; font-size: 13px; font-weight: 600; }
label { display: block; font-size: 13px; color: #697386; margin: 1rem 0 .25rem; }
input { width: 100%; box-sizing: border-box; padding: .6rem .75rem; border: 1px solid #e0e6eb; border-radius: 6px; font: inherit; background: #fafbfc; }
button { margin-top: 1.5rem; width: 100%; padding: .8rem; border: 0; border-radius: 6px; background: #0570de; color: #fff; font: 600 16px system-ui, sans-serif; cursor: pointer; }
.note { color: #697386; font-size: 12px; margin-top: 1.5rem; }
</style></head><body><div class="page">
<section class="summary" aria-label="Order summary">
<div class="merchant">Tollgate <span class="badge">TEST MODE</span></div>
<p class="product" data-product="{{ item }}">{{ product }}</p>
{% if trial_days %}
<p class="amount" data-amount="{{ amount }}">{{ trial_days }} days free</p>
<p class="then" data-interval="{{ interval }}">Then {{ amount }} per {{ interval }} starting {{ trial_ends }}</p>
{% elif interval %}
<p class="amount" data-amount="{{ amount }}">{{ amount }} <small data-interval="{{ interval }}">per {{ interval }}</small></p>
{% else %}
<p class="amount" data-amount="{{ amount }}">{{ amount }}</p>
<p class="then" data-interval="once">One-time payment</p>
{% endif %}
{% if discount %}<p class="discount">{{ discount }}</p>{% endif %}
</section>
<section class="pay" aria-label="Payment">
{% if paid %}
<h1>Already paid</h1><p>This checkout session is complete.</p>
{% else %}
<form method="post" action="/dev/checkout/{{ session }}/pay">
<label for="email">Email</label><input id="email" value="{{ email }}" readonly>
<label for="card">Card information</label><input id="card" value="4242 4242 4242 4242   12 / 34   123" readonly>
<button type="submit">{{ action }}</button>
</form>
{% endif %}
<p class="note">Simulated by <code>tollgate dev</code>: no money moves. Paying delivers Stripe's signed events to the local
webhook, then returns to the success page. Session <code>{{ session }}</code>.</p>
</section></div></body></html>
"##;

#[derive(Serialize)]
struct View {
    session: String,
    item: String,
    product: String,
    amount: String,
    /// `month`, `year`, or empty for a one-time price.
    interval: &'static str,
    trial_days: u32,
    trial_ends: String,
    discount: Option<String>,
    email: String,
    action: &'static str,
    paid: bool,
}

/// The buyer's email as Checkout would prefill it: the session's, else the order's user's.
async fn buyer_email(app: &App, request: &CheckoutRequest) -> String {
    if let Some(email) = &request.customer_email {
        return email.clone();
    }
    let order = orders::get(&app.store, &request.client_reference_id).await.ok().flatten();
    let Some(user) = order.and_then(|o| o.user_id) else { return String::new() };
    users::user_by_id(&app.store, &user).await.ok().flatten().map(|u| u.email).unwrap_or_default()
}

fn view(app: &App, session: &str, request: &CheckoutRequest, paid: bool, email: String) -> View {
    let catalog = &app.catalog;
    let price = catalog.price(&request.price);
    let currency = request.currency.clone().or_else(|| price.map(|p| p.currency.clone())).unwrap_or_default();
    let amount = price.and_then(|p| p.currency_options.get(&currency).copied().or(p.amount));
    let interval = price.and_then(|p| p.interval).map_or("", |i| i.as_str());
    let trial_days = request.subscription.as_ref().map_or(0, |s| s.trial_days);
    let pack = price.is_some_and(|p| catalog.pack(&p.item).is_some());
    let name = price.map_or_else(|| request.price.clone(), |p| p.item_name.clone());
    // A members' coupon comes off the price, as Stripe's page shows the total after it.
    let coupon = request.coupon.as_ref().map(|id| (id, catalog.coupons().into_iter().find(|c| &c.id == id)));
    let off = match (&coupon, amount) {
        (Some((_, Some(c))), Some(full)) => full * i64::from(c.percent_off) / 100,
        _ => 0,
    };
    let discount = coupon.map(|(id, found)| match found {
        Some(c) => format!("{} ({}% off): -{}", c.name, c.percent_off, money(off, Some(&currency))),
        None => format!("Coupon {id} applied"),
    });
    let amount = amount.map(|full| full - off);
    View {
        session: session.to_string(),
        item: price.map_or_else(String::new, |p| p.item.clone()),
        product: if pack { format!("{name} (credit pack)") } else { name },
        amount: amount.map_or_else(|| "price set in Stripe".to_string(), |a| money(a, Some(&currency))),
        interval,
        trial_days,
        trial_ends: day_id(app.now() + i64::from(trial_days) * DAY),
        discount,
        email,
        action: match (trial_days, interval) {
            (1.., _) => "Start trial",
            (0, "") => "Pay",
            _ => "Subscribe",
        },
        paid,
    }
}

pub async fn page(app: &App, session: &str) -> Page {
    let Some(sim) = app.stripe.simulator() else {
        return plain(404, "text/plain", "Stripe is not simulated".into());
    };
    let Some((request, paid)) = sim.checkout_request(session) else {
        return plain(404, "text/plain", "no such session".into());
    };
    let email = buyer_email(app, &request).await;
    let mut env = minijinja::Environment::new();
    env.set_auto_escape_callback(|_| minijinja::AutoEscape::Html);
    match env.render_str(PAGE, minijinja::value::Serde(view(app, session, &request, paid, email))) {
        Ok(html) => plain(200, "text/html; charset=utf-8", html),
        Err(e) => plain(500, "text/plain", format!("the page could not be rendered: {e}")),
    }
}
