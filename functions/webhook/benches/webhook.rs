//! The webhook handler on the memory store: a signed paid checkout applied (signature check,
//! parse, one transaction, the receipt rendered and sent to the console outbox), a duplicate
//! delivery refused, and a subscription update applied (read the user's subscriptions, one
//! transaction). Run: cargo bench -p tollgate-webhook

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use tollgate::store::Store;
use tollgate_testkit::{
    self as testing, PRO_MONTHLY_PRICE, event, event_at, paid_session, subscription_object, webhook_request,
};

fn webhook(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let t = testing::app(Store::memory(), None, &[]);
    // Built once, as Lambda and the dev server do; each request goes through it.
    let router = tollgate_webhook::router(t.app.clone());
    let handle = |req| tollgate::http::router::call(router.clone(), req);
    let mut n = 0u64;
    let mut group = c.benchmark_group("webhook");
    group.bench_function("paid_checkout_applied", |b| {
        b.to_async(&runtime).iter_batched(
            || {
                n += 1;
                let body = event(
                    "checkout.session.completed",
                    paid_session(
                        &format!("cs_test_b{n}"),
                        &format!("ord_b{n}"),
                        Some("usr_bench"),
                        "bench@example.com",
                    ),
                );
                webhook_request(&body, t.app.now())
            },
            |req| async { assert_eq!(handle(req).await.status(), 200) },
            BatchSize::SmallInput,
        )
    });
    let body = event(
        "checkout.session.completed",
        paid_session("cs_test_dup", "ord_dup", Some("usr_bench"), "bench@example.com"),
    );
    runtime.block_on(handle(webhook_request(&body, t.app.now())));
    group.bench_function("duplicate_refused", |b| {
        b.to_async(&runtime).iter_batched(
            || webhook_request(&body, t.app.now()),
            |req| async { assert_eq!(handle(req).await.status(), 200) },
            BatchSize::SmallInput,
        )
    });
    let mut m = 0u64;
    group.bench_function("subscription_update_applied", |b| {
        b.to_async(&runtime).iter_batched(
            || {
                m += 1;
                let now = t.app.now();
                let sub = subscription_object(
                    &format!("sub_b{m}"),
                    &format!("cus_b{m}"),
                    &format!("usr_b{m}"),
                    "active",
                    PRO_MONTHLY_PRICE,
                    (now, now + 30 * 86_400),
                );
                let body = event_at(&format!("evt_sub_b{m}"), "customer.subscription.updated", sub, now);
                webhook_request(&body, now)
            },
            |req| async { assert_eq!(handle(req).await.status(), 200) },
            BatchSize::SmallInput,
        )
    });
    group.finish();
}

criterion_group!(benches, webhook);
criterion_main!(benches);
