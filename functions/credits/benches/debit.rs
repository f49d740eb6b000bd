//! The debit path through the credits handler on the memory store, on one core (a
//! current-thread runtime): each debit's latency, p50/p99, debits per second, and the store
//! calls per debit. Run: cargo bench -p tollgate-credits --bench debit

use std::time::{Duration, Instant};

use serde_json::json;
use tollgate::domain::credits::{self, Change, Floor};
use tollgate::store::Store;
use tollgate::store::schema::Reason;
use tollgate_testkit::{self as testing, request};

const WARMUP: usize = 2_000;
const DEBITS: usize = 50_000;

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

fn main() {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let t = testing::app(Store::memory(), None, &[]);
    let token = testing::token(&t.app, "usr_bench", "bench@example.com");
    runtime.block_on(async {
        let seed = Change {
            user_id: "usr_bench",
            delta: 1_000_000_000,
            floor: Floor::Refuse,
            reason: Reason::Admin,
            note: None,
            reference: None,
            key: None,
        };
        credits::apply(&t.app, &seed, &|_| Default::default()).await.unwrap();
        let mut latencies = Vec::with_capacity(DEBITS);
        let calls_before = t.app.store.round_trips();
        let started = Instant::now();
        for i in 0..WARMUP + DEBITS {
            let body = json!({ "amount": 1, "idempotency_key": format!("bench-{i}") });
            let req = request("POST", "/api/credits/debit", Some(&body), Some(&token));
            let at = Instant::now();
            let response = tollgate_credits::handle(&t.app, req).await;
            let took = at.elapsed();
            assert_eq!(response.status(), 200);
            if i >= WARMUP {
                latencies.push(took);
            }
        }
        let elapsed = started.elapsed();
        let calls = t.app.store.round_trips() - calls_before;
        latencies.sort();
        let total: Duration = latencies.iter().sum();
        println!("debit through the handler, memory store, one core, {DEBITS} debits (after {WARMUP} warm-up):");
        println!(
            "  p50 {:?}  p99 {:?}  max {:?}",
            percentile(&latencies, 0.50),
            percentile(&latencies, 0.99),
            latencies.last().unwrap()
        );
        println!("  {:.0} debits/s (handler time only)", DEBITS as f64 / total.as_secs_f64());
        println!(
            "  {:.0} debits/s (wall, including building requests)",
            (WARMUP + DEBITS) as f64 / elapsed.as_secs_f64()
        );
        println!("  store calls per debit: {:.3}", calls as f64 / (WARMUP + DEBITS) as f64);
        assert_eq!(credits::balance(&t.app, "usr_bench").await.unwrap(), 1_000_000_000 - (WARMUP + DEBITS) as i64);
    });
}
