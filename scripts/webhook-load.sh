#!/usr/bin/env bash
# The webhook's throughput next to its peer, measured in one run on this machine: the release
# `tollgate dev` server (memory store, console email) and bench/express-peer (Express with
# stripe-node's constructEvent), each driven by bench/load's webhook-load with the same distinct,
# freshly signed deliveries over the same number of connections. Both servers bind loopback and
# are stopped on exit. Then the ceiling of each server's HTTP stack, in the same run: the same
# deliveries to a path neither has a route for (each answers 404, no handler runs).
#
#   scripts/webhook-load.sh [connections] [seconds]      (make webhook-load)
set -euo pipefail
cd "$(dirname "$0")/.."
CONNECTIONS=${1:-32}
SECONDS_=${2:-10}
SECRET=whsec_load_test
TOLLGATE_PORT=${TOLLGATE_PORT:-3917}
PEER_PORT=${PEER_PORT:-3918}
LOAD=target/release/webhook-load

pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT

wait_for() { # port
  for _ in $(seq 1 100); do
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
    sleep 0.1
  done
  echo "nothing listens on $1" >&2; exit 1
}

# Tollgate as `make dev` runs it (its request log and console emails to a file).
STRIPE_WEBHOOK_SECRET=$SECRET target/release/tollgate dev --port "$TOLLGATE_PORT" >/tmp/tollgate-load.log 2>&1 &
pids+=($!)
PORT=$PEER_PORT STRIPE_WEBHOOK_SECRET=$SECRET node bench/express-peer/server.js >/tmp/express-peer.log 2>&1 &
pids+=($!)
wait_for "$TOLLGATE_PORT"
wait_for "$PEER_PORT"

echo "tollgate dev (memory store):"
tollgate=$($LOAD --url "http://127.0.0.1:$TOLLGATE_PORT/api/stripe/webhook" --secret $SECRET -c "$CONNECTIONS" -d "$SECONDS_")
echo "  $tollgate"
echo "express + stripe-node constructEvent:"
peer=$($LOAD --url "http://127.0.0.1:$PEER_PORT/api/stripe/webhook" --secret $SECRET -c "$CONNECTIONS" -d "$SECONDS_")
echo "  $peer"
rate() { sed -E 's/.*: ([0-9]+) req\/s.*/\1/' <<<"$1"; }
awk -v a="$(rate "$tollgate")" -v b="$(rate "$peer")" 'BEGIN { printf "tollgate / peer: %.2fx\n", a / b }'

echo "the ceiling, no handler (POST /api/no-such-route, 404):"
tollgate_404=$($LOAD --url "http://127.0.0.1:$TOLLGATE_PORT/api/no-such-route" --secret $SECRET --expect 404 -c "$CONNECTIONS" -d "$SECONDS_")
echo "  tollgate dev: $tollgate_404"
peer_404=$($LOAD --url "http://127.0.0.1:$PEER_PORT/api/no-such-route" --secret $SECRET --expect 404 -c "$CONNECTIONS" -d "$SECONDS_")
echo "  express: $peer_404"
awk -v a="$(rate "$tollgate_404")" -v b="$(rate "$peer_404")" -v p="$(rate "$peer")" 'BEGIN {
  printf "ceiling: tollgate / peer %.2fx; tollgate with no handler / peer with its handler %.2fx\n", a / b, a / p }'
