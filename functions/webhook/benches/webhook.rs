//! The webhook handler on the memory store: a signed paid checkout applied (signature check,
//! parse, one transaction), and a duplicate delivery refused. Run: cargo bench -p tollgate-webhook

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use tollgate::store::Store;
use tollgate::testing::{self, event, paid_session, webhook_request};

fn webhook(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let t = testing::app(Store::memory(), None, &[]);
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
            |req| async { assert_eq!(tollgate_webhook::handle(&t.app, req).await.status(), 200) },
            BatchSize::SmallInput,
        )
    });
    let body = event(
        "checkout.session.completed",
        paid_session("cs_test_dup", "ord_dup", Some("usr_bench"), "bench@example.com"),
    );
    runtime.block_on(tollgate_webhook::handle(&t.app, webhook_request(&body, t.app.now())));
    group.bench_function("duplicate_refused", |b| {
        b.to_async(&runtime).iter_batched(
            || webhook_request(&body, t.app.now()),
            |req| async { assert_eq!(tollgate_webhook::handle(&t.app, req).await.status(), 200) },
            BatchSize::SmallInput,
        )
    });
    group.finish();
}

criterion_group!(benches, webhook);
criterion_main!(benches);
