#!/usr/bin/env bash
# Runs a command with the test DynamoDB server (moto, loopback, one request at a time) up, its
# URL in TOLLGATE_TEST_DYNAMODB_ENDPOINT, and stops the server afterwards whatever happens.
set -euo pipefail
venv=${VENV:-.venv}
state=$(mktemp -d)
"$venv/bin/python" scripts/dynamodb_server.py "$state/port" > "$state/server.log" 2>&1 &
server=$!
cleanup() { kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; rm -rf "$state"; }
trap cleanup EXIT INT TERM
for _ in $(seq 1 200); do
  [ -s "$state/port" ] && break
  if ! kill -0 "$server" 2>/dev/null; then cat "$state/server.log" >&2; echo "the DynamoDB test server did not start" >&2; exit 1; fi
  sleep 0.1
done
[ -s "$state/port" ] || { echo "the DynamoDB test server did not start in 20 s" >&2; exit 1; }
export TOLLGATE_TEST_DYNAMODB_ENDPOINT="http://127.0.0.1:$(cat "$state/port")"
export AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_REGION=us-east-1
echo "DynamoDB test server at $TOLLGATE_TEST_DYNAMODB_ENDPOINT"
"$@"
