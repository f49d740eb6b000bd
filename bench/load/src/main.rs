//! Drives a Stripe webhook endpoint with distinct, freshly signed `checkout.session.completed`
//! deliveries (events/payloads/checkout-session-completed.json, compact: 3.4 KB) over keep-alive
//! HTTP/1.1 connections from one thread, as `wrk -t1 -cN` would, and reports throughput and
//! latency. Every delivery has its own event, session, order, payment and buyer, so a receiver
//! that applies events does the whole work each time (nothing is a duplicate).
//!
//!   webhook-load --url http://127.0.0.1:3000/api/stripe/webhook --secret whsec_... -c 32 -d 10

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use clap::Parser;
use http_body_util::{BodyExt, Full};

#[derive(Parser)]
struct Args {
    /// The endpoint (http only).
    #[arg(long)]
    url: String,
    /// The endpoint's signing secret.
    #[arg(long, default_value = tollgate::config::DEV_WEBHOOK_SECRET)]
    secret: String,
    /// Open connections, each with one request in flight.
    #[arg(short = 'c', long, default_value_t = 32)]
    connections: usize,
    /// Seconds of load after a one-second warm-up.
    #[arg(short = 'd', long, default_value_t = 10)]
    seconds: u64,
    /// The payload whose ids are made distinct.
    #[arg(long, default_value = "events/payloads/checkout-session-completed.json")]
    payload: String,
    /// The status every answer should have; without it, any 2xx. The HTTP stack's ceiling is
    /// measured with a URL the server has no route for (`--expect 404`): the same deliveries,
    /// read and answered, with no handler.
    #[arg(long)]
    expect: Option<u16>,
}

/// The payload cut where each delivery's own number goes.
struct Template(Vec<String>);

impl Template {
    fn new(path: &str) -> Self {
        let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path}: {e}"));
        let value: serde_json::Value = serde_json::from_str(&text).expect("the payload is JSON");
        let mut compact = serde_json::to_string(&value).expect("serializes");
        for id in ["evt_sample_checkout_completed", "cs_test_a1sample", "ord_sample", "pi_sample", "ada@example.com"] {
            let (stem, tail) = id.split_once('@').map_or((id, ""), |(s, _)| (s, "@example.com"));
            compact = compact.replace(id, &format!("{stem}_load\u{0}{tail}"));
        }
        Template(compact.split('\u{0}').map(str::to_string).collect())
    }

    fn delivery(&self, n: u64) -> String {
        self.0.join(&n.to_string())
    }
}

#[derive(Default)]
struct Tally {
    ok: AtomicU64,
    failed: AtomicU64,
}

fn now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("after 1970").as_secs() as i64
}

async fn connection(
    args: Arc<Args>,
    template: Arc<Template>,
    next: Arc<AtomicU64>,
    tally: Arc<Tally>,
    until: Instant,
    counting_from: Instant,
    latencies: Arc<std::sync::Mutex<Vec<u32>>>,
) {
    let uri: hyper::Uri = args.url.parse().expect("a URL");
    let authority = uri.authority().expect("the URL names a host").clone();
    let stream = tokio::net::TcpStream::connect(authority.as_str()).await.expect("the server accepts");
    stream.set_nodelay(true).expect("nodelay");
    let (mut sender, conn) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream)).await.expect("handshake");
    tokio::spawn(conn);
    let mut mine = Vec::new();
    while Instant::now() < until {
        let n = next.fetch_add(1, Ordering::Relaxed);
        let body = template.delivery(n);
        let signature = tollgate::stripe::signature::header(body.as_bytes(), &args.secret, now());
        let request = hyper::Request::post(uri.clone())
            .header("host", authority.as_str())
            .header("content-type", "application/json")
            .header("stripe-signature", signature)
            .body(Full::new(Bytes::from(body)))
            .expect("a request");
        let started = Instant::now();
        let response = sender.send_request(request).await.expect("an answer");
        let status = response.status();
        let _ = response.into_body().collect().await.expect("the answer's body");
        if started >= counting_from {
            mine.push(started.elapsed().as_micros() as u32);
            let expected = match args.expect {
                Some(code) => status.as_u16() == code,
                None => status.is_success(),
            };
            let tally = if expected { &tally.ok } else { &tally.failed };
            tally.fetch_add(1, Ordering::Relaxed);
        }
    }
    latencies.lock().expect("not poisoned").extend(mine);
}

fn main() {
    let args = Arc::new(Args::parse());
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a runtime");
    let template = Arc::new(Template::new(&args.payload));
    let size = template.delivery(1_000_000).len();
    let next = Arc::new(AtomicU64::new(
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("after 1970").as_micros() as u64,
    ));
    let tally = Arc::new(Tally::default());
    let latencies = Arc::new(std::sync::Mutex::new(Vec::new()));
    let counting_from = Instant::now() + Duration::from_secs(1);
    let until = counting_from + Duration::from_secs(args.seconds);
    runtime.block_on(async {
        let tasks: Vec<_> = (0..args.connections)
            .map(|_| {
                tokio::spawn(connection(
                    args.clone(),
                    template.clone(),
                    next.clone(),
                    tally.clone(),
                    until,
                    counting_from,
                    latencies.clone(),
                ))
            })
            .collect();
        for task in tasks {
            task.await.expect("a connection ran");
        }
    });
    let mut latencies = latencies.lock().expect("not poisoned").clone();
    latencies.sort_unstable();
    let at = |q: f64| latencies.get(((latencies.len() as f64 * q) as usize).min(latencies.len().saturating_sub(1)));
    let ok = tally.ok.load(Ordering::Relaxed);
    let failed = tally.failed.load(Ordering::Relaxed);
    println!(
        "{} connections, {} s, {size}-byte deliveries: {:.0} req/s, {ok} {}, {failed} other, latency p50 {} us, p99 {} us",
        args.connections,
        args.seconds,
        (ok + failed) as f64 / args.seconds as f64,
        args.expect.map_or("2xx".to_string(), |code| code.to_string()),
        at(0.5).copied().unwrap_or(0),
        at(0.99).copied().unwrap_or(0),
    );
    if failed > 0 {
        std::process::exit(1);
    }
}
