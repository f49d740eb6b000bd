//! What customers, clients and Stripe see, held by reviewed snapshots (`tests/snapshots/`):
//! every email, every error envelope, every form sent to Stripe. A change to any of them shows
//! as a diff to review (`cargo insta review`), never silently.

use serde_json::{Value, json};
use tollgate::catalog::{AddressCollection, CheckoutMode};
use tollgate::domain::mail::{self, MailKind};
use tollgate::error::Error;
use tollgate::http::error_response;
use tollgate::stripe::client::{CheckoutRequest, SubscriptionTerms, customer_form, portal_form};

fn form_text(form: &[(String, String)]) -> String {
    form.iter().map(|(k, v)| format!("{k}={v}\n")).collect()
}

#[test]
fn every_email() {
    let context = json!({
        "product": "Pro",
        "amount": "9.00 USD",
        "date": "2026-11-23",
        "invoice_url": "https://invoice.stripe.com/i/acct_1/test_inv",
        "grace_days": 7,
        "action_required": false,
        "cancel_scheduled": false,
    });
    let mut asked = context.clone();
    asked["action_required"] = json!(true);
    let mut scheduled = context.clone();
    scheduled["cancel_scheduled"] = json!(true);
    let mut one_time = context.clone();
    one_time["invoice_url"] = Value::Null;
    let cases = [
        ("receipt_invoice", MailKind::Receipt, &context),
        ("receipt_one_time", MailKind::Receipt, &one_time),
        ("payment_failed", MailKind::PaymentFailed, &context),
        ("payment_action_required", MailKind::PaymentActionRequired, &asked),
        ("trial_ending", MailKind::TrialEnding, &context),
        ("trial_ending_cancel_scheduled", MailKind::TrialEnding, &scheduled),
        ("subscription_canceled", MailKind::SubscriptionCanceled, &context),
    ];
    for (name, kind, context) in cases {
        let email = mail::render(kind, "ada@example.com", context).unwrap();
        let shown = format!(
            "To: {}\nSubject: {}\n\n{}\n--- html ---\n{}",
            email.to,
            email.subject,
            email.text,
            email.html.unwrap_or_default()
        );
        insta::assert_snapshot!(format!("email_{name}"), shown);
    }
}

#[test]
fn every_error_envelope() {
    let errors = [
        Error::bad_request("invalid_field", "amount must be a whole number"),
        Error::PayloadTooLarge { limit: 16384 },
        Error::unauthorized("missing_token", "sign in first"),
        Error::forbidden("not_admin", "administrators only"),
        Error::not_found("not_found", "no such session"),
        Error::conflict("idempotency_key_reused", "this idempotency key was used for a different amount"),
        Error::MethodNotAllowed,
        Error::AlreadySubscribed { portal_url: Some("https://billing.stripe.com/p/session/test".into()) },
        Error::PaymentRequired {
            code: "session_limit_reached",
            message: "the Free plan keeps 5 sessions".into(),
            details: json!({ "limit": 5, "plan": "free" }),
        },
        Error::InsufficientCredits { balance: 3, required: 5 },
        Error::UsageLimit {
            feature: "ai_chat".into(),
            used: 5,
            limit: 5,
            resets_at: 1_795_478_400,
            daily: true,
            retry_after_secs: 43_200,
        },
        Error::UsageLimit {
            feature: "quizzes".into(),
            used: 2,
            limit: 2,
            resets_at: 1_796_083_200,
            daily: false,
            retry_after_secs: 648_000,
        },
        Error::RateLimited { retry_after_secs: 60 },
        Error::Stripe {
            message: "Stripe answered 500".into(),
            fallback_url: Some("https://buy.stripe.com/test".into()),
        },
        Error::EmailFailed,
        Error::StoreUnavailable(tollgate::store::StoreError::Unavailable("throttled".into())),
        Error::Unhealthy { code: "store_unreachable", message: "the store did not answer".into() },
        Error::Retry { code: "unreadable_event", message: "invoice.paid: missing field `id`".into() },
        Error::internal("a secret detail that must not show"),
    ];
    let mut shown = String::new();
    for error in &errors {
        let response = error_response(error, "req_snapshot");
        let retry_after = response.headers().get("retry-after").map(|v| v.to_str().unwrap().to_string());
        let body: Value = serde_json::from_slice(response.body().as_ref()).unwrap();
        shown.push_str(&format!(
            "{} retry-after={}\n{}\n\n",
            response.status().as_u16(),
            retry_after.as_deref().unwrap_or("-"),
            serde_json::to_string_pretty(&body).unwrap()
        ));
    }
    insta::assert_snapshot!("error_envelopes", shown);
}

fn checkout(mode: CheckoutMode) -> CheckoutRequest {
    CheckoutRequest {
        mode,
        price: "price_pro".into(),
        client_reference_id: "ord_1".into(),
        metadata: vec![("order_id".into(), "ord_1".into()), ("plan".into(), "pro".into())],
        customer: None,
        customer_email: Some("ada@example.com".into()),
        success_url: "https://app.example.com/success?session_id={CHECKOUT_SESSION_ID}".into(),
        cancel_url: "https://app.example.com/cancel".into(),
        idempotency_key: "checkout-ord_1".into(),
        subscription: None,
        coupon: None,
        currency: None,
        tax: Default::default(),
    }
}

#[test]
fn every_form_sent_to_stripe() {
    let anonymous = checkout(CheckoutMode::Payment);
    let member = CheckoutRequest {
        customer: Some("cus_1".into()),
        customer_email: None,
        coupon: Some("members_20".into()),
        metadata: vec![("order_id".into(), "ord_1".into()), ("pack".into(), "credits_100".into())],
        ..checkout(CheckoutMode::Payment)
    };
    let subscription = CheckoutRequest {
        customer: Some("cus_1".into()),
        customer_email: None,
        subscription: Some(SubscriptionTerms {
            trial_days: 14,
            metadata: vec![("plan".into(), "pro".into()), ("interval".into(), "month".into())],
            allow_promotion_codes: true,
            billing_address: AddressCollection::Required,
        }),
        ..checkout(CheckoutMode::Subscription)
    };
    let taxed = CheckoutRequest {
        customer: Some("cus_1".into()),
        customer_email: None,
        currency: Some("eur".into()),
        tax: tollgate::catalog::Tax { automatic: true, id_collection: true },
        ..checkout(CheckoutMode::Payment)
    };
    for (name, request) in
        [("anonymous", anonymous), ("member", member), ("subscription", subscription), ("taxed_in_euros", taxed)]
    {
        let form = request.form();
        tollgate_testkit::assert_real_form_fields("/v1/checkout/sessions", &form);
        insta::assert_snapshot!(format!("form_checkout_{name}"), form_text(&form));
    }
    let customer = customer_form("ada@example.com", "usr_1");
    tollgate_testkit::assert_real_form_fields("/v1/customers", &customer);
    insta::assert_snapshot!("form_customer", form_text(&customer));
    let portal = portal_form("cus_1", "https://app.example.com/account", None);
    tollgate_testkit::assert_real_form_fields("/v1/billing_portal/sessions", &portal);
    insta::assert_snapshot!("form_portal", form_text(&portal));
}
