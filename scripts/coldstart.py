#!/usr/bin/env python3
"""Cold starts of the functions' release binaries under a fake Lambda runtime API.

Each binary is spawned as Lambda spawns a custom runtime's `bootstrap`, with the production
configuration template.yaml gives it (TOLLGATE_ENV=production, DynamoDB, SES, its secrets as
Secrets Manager ARNs), every AWS and Stripe endpoint pointed at this script's server on loopback,
which answers as those services do: over HTTPS as AWS and Stripe do (a CA made for the run with
openssl, trusted through SSL_CERT_FILE), so each cold start pays its TLS handshakes and whatever
the first randomness costs; `--plain` serves them over HTTP. Per run it records:

  init         spawn -> the first `GET /runtime/invocation/next` (what Lambda bills as Init)
  invoke       that event handed over -> its response posted (the first, cold invocation)
  peak RSS     the process's high-water mark (VmHWM) after that invocation

next to `hello` (bench/hello: a hello-world lambda_http binary built with the same profile).
Runs are interleaved (hello, admin, ..., hello, admin, ...) so every figure is taken side by side;
the table gives medians and each function's ratio to hello's median.

    scripts/coldstart.py [--runs N] [--bin-dir target/release] [--plain] [--price-ids] [NAME ...]
"""

import argparse
import base64
import hashlib
import hmac
import json
import os
import pathlib
import re
import shlex
import signal
import ssl
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import tomllib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlsplit

ROOT = pathlib.Path(__file__).resolve().parent.parent
EVENTS = ROOT / "events"
JWT_SECRET = "coldstart-jwt-secret-0123456789abcdef0123456789"
WEBHOOK_SECRET = "whsec_coldstart"
ADMIN = "admin@example.com"
# A fixed Ed25519 JWK set (openssl genpkey -algorithm ed25519; used only here).
ENTITLEMENT_KEYS = json.dumps({"keys": [{
    "kty": "OKP", "crv": "Ed25519", "alg": "EdDSA", "use": "sig", "kid": "coldstart",
    "x": "MqdxyTc-7NU8jMG4BOAYqFJe90yq9ugisQZndGXL5BI",
    "d": "Cd7rpDvbx1SQ69Cm3eZTo_f4wQfQgY-0I42ASSL_0SQ",
}]})
SECRETS = {
    "JWT_SECRET": JWT_SECRET,
    "STRIPE_SECRET_KEY": "sk_test_coldstart",
    "STRIPE_WEBHOOK_SECRET": WEBHOOK_SECRET,
    "ENTITLEMENT_KEYS": ENTITLEMENT_KEYS,
}


# Set by the command line: what every run's environment adds (`--price-ids`: CATALOG_PATH).
EXTRA_ENV = {}


def secret_value(arn):
    """Secrets Manager's answer for one secret, named by its ARN (its name is the ARN's last part)."""
    name = arn.rsplit(":", 1)[-1]
    return {"ARN": arn, "Name": name, "SecretString": SECRETS[name], "VersionId": "v1"}


# Each function: the secrets template.yaml gives it (as ARNs) and the event of its first invoke.
FUNCTIONS = {
    "admin": (["JWT_SECRET", "STRIPE_SECRET_KEY", "STRIPE_WEBHOOK_SECRET"], "admin-metrics.json"),
    "auth": (["JWT_SECRET", "ENTITLEMENT_KEYS", "STRIPE_SECRET_KEY"], "auth-request-code.json"),
    "checkout": (["JWT_SECRET", "STRIPE_SECRET_KEY"], "catalog.json"),
    "claim": (["JWT_SECRET", "ENTITLEMENT_KEYS", "STRIPE_SECRET_KEY"], "pro-verify.json"),
    "credits": (["JWT_SECRET"], "credits-balance.json"),
    "mailer": ([], "mailer/stream.json"),
    "reconcile": (["STRIPE_SECRET_KEY"], "mailer/schedule.json"),
    "sessions": (["JWT_SECRET", "ENTITLEMENT_KEYS"], "sessions-list.json"),
    "webhook": (["STRIPE_SECRET_KEY", "STRIPE_WEBHOOK_SECRET"], "webhook-function-url.json"),
    "hello": ([], "health.json"),
}


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def token(email):
    """An HS256 session token as Tollgate issues them."""
    now = int(time.time())
    header = b64url(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    claims = {"sub": "usr_coldstart", "email": email, "pro": False, "plan": "free", "iss": "tollgate",
              "aud": "tollgate-app", "iat": now, "exp": now + 3600, "tv": 0}
    payload = b64url(json.dumps(claims).encode())
    mac = hmac.new(JWT_SECRET.encode(), f"{header}.{payload}".encode(), hashlib.sha256).digest()
    return f"{header}.{payload}.{b64url(mac)}"


def event_for(name):
    """The function's sample event, made valid now (a fresh token; a freshly signed delivery)."""
    text = (EVENTS / FUNCTIONS[name][1]).read_text().replace("REPLACE_WITH_A_TOKEN", token(ADMIN))
    event = json.loads(text)
    if name == "webhook":
        body = (EVENTS / "payloads" / "checkout-session-completed.json").read_bytes()
        stamp = int(time.time())
        mac = hmac.new(WEBHOOK_SECRET.encode(), f"{stamp}.".encode() + body, hashlib.sha256).hexdigest()
        event["headers"]["stripe-signature"] = f"t={stamp},v1={mac}"
        event["body"] = base64.b64encode(body).decode()
        event["isBase64Encoded"] = True
    return json.dumps(event).encode()


def stripe_prices(catalog_path):
    """Stripe's answer to the lookup of every price the catalog names by amount."""
    catalog = tomllib.loads(catalog_path.read_text())
    currency = catalog.get("currency", "usd")
    prices = {}

    def add(item, interval, written):
        if "amount" not in written:
            return
        key = f"tollgate:{item}:{interval or 'once'}"
        options = {currency: {"unit_amount": written["amount"]}}
        options.update({c: {"unit_amount": a} for c, a in written.get("currency_options", {}).items()})
        prices[key] = {
            "id": f"price_{abs(hash(key)) % 10**12}", "object": "price", "active": True, "currency": currency,
            "unit_amount": written["amount"], "lookup_key": key, "currency_options": options,
            "recurring": {"interval": interval, "interval_count": 1} if interval else None,
            "tax_behavior": catalog.get("tax_behavior", "unspecified"), "product": f"prod_{item}",
        }

    for group in ("plans", "packs"):
        for item, spec in catalog.get(group, {}).items():
            add(item, None, spec)
            for interval in ("month", "year"):
                if interval in spec.get("subscription", {}):
                    add(item, interval, spec["subscription"][interval])
    return prices


def with_price_ids(catalog_path, prices, out):
    """The catalog with every price it names by amount written as the id Stripe has for it (as a
    deployment that writes `price = "price_..."` or `price_env` does): no lookup at start."""
    section, lines = "", []
    for line in catalog_path.read_text().splitlines():
        if line.startswith("["):
            section = line.strip("[]").split(".")
        key = None
        if re.match(r"amount\s*=", line) and len(section) == 2 and section[0] in ("plans", "packs"):
            key, line = f"tollgate:{section[1]}:once", "price = {}"
        elif (m := re.match(r"(month|year)\s*=\s*\{\s*amount", line)) and section[2:] == ["subscription"]:
            key, line = f"tollgate:{section[1]}:{m.group(1)}", m.group(1) + " = { price = {} }"
        lines.append(line.replace("{}", json.dumps(prices[key]["id"]), 1) if key else line)
    out.write_text("\n".join(lines) + "\n")
    return out


class Fake:
    """What one run's process talks to: the runtime API, AWS's JSON APIs and Stripe."""

    def __init__(self, prices):
        self.prices = prices
        self.lock = threading.Condition()
        self.reset(None)

    def reset(self, event):
        with self.lock:
            self.event, self.polls, self.first_poll, self.handed, self.answered = event, 0, None, None, None
            self.response, self.failure = None, None
            self.trace = []

    def wait(self, timeout):
        """Until the process answered and polled again (idle: nothing of this run is in flight)."""
        with self.lock:
            self.lock.wait_for(lambda: (self.answered is not None and self.polls >= 2) or self.failure is not None,
                               timeout)
            return self.answered is not None or self.failure is not None


def handler(fake):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True

        def log_message(self, *args):
            pass

        def send(self, status, body, headers=()):
            data = body if isinstance(body, bytes) else json.dumps(body).encode()
            self.send_response(status)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(data)))
            for k, v in headers:
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(data)

        def body(self):
            return self.rfile.read(int(self.headers.get("content-length") or 0))

        def do_GET(self):
            now = time.perf_counter()
            fake.trace.append((now, "GET " + self.path[:40]))
            url = urlsplit(self.path)
            if url.path == "/2018-06-01/runtime/invocation/next":
                with fake.lock:
                    fake.polls += 1
                    first = fake.polls == 1
                    if first:
                        fake.first_poll = now
                if not first:
                    # The instance is idle now: hold the poll until the run ends.
                    with fake.lock:
                        fake.lock.notify_all()
                    time.sleep(30)
                    return
                deadline = int(time.time() * 1000) + 15000
                headers = [("lambda-runtime-aws-request-id", "coldstart-1"),
                           ("lambda-runtime-deadline-ms", str(deadline)),
                           ("lambda-runtime-invoked-function-arn", "arn:aws:lambda:us-east-1:123456789012:function:x"),
                           ("lambda-runtime-trace-id", "Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=0")]
                self.send(200, fake.event, headers)
                with fake.lock:
                    fake.handed = time.perf_counter()
            elif url.path == "/v1/prices":
                keys = [v for k, v in parse_qsl(url.query) if k.startswith("lookup_keys[")]
                data = [fake.prices[k] for k in keys if k in fake.prices]
                self.send(200, {"object": "list", "data": data, "has_more": False, "url": "/v1/prices"})
            elif url.path.startswith("/v1/"):
                self.send(200, {"object": "list", "data": [], "has_more": False, "url": url.path})
            else:
                self.send(404, {"error": {"message": "not here"}})

        def do_POST(self):
            now = time.perf_counter()
            path = urlsplit(self.path).path
            body = self.body()
            fake.trace.append((now, "POST " + path[:40] + " " + self.headers.get("x-amz-target", "")))
            if path.startswith("/2018-06-01/runtime/"):
                self.send(202, {"status": "OK"})
                with fake.lock:
                    if path.endswith("/response"):
                        fake.answered, fake.response = now, body
                    else:
                        fake.failure = body.decode(errors="replace")
                    fake.lock.notify_all()
                return
            target = self.headers.get("x-amz-target", "")
            if target == "secretsmanager.GetSecretValue":
                self.send(200, secret_value(json.loads(body)["SecretId"]),
                          [("content-type", "application/x-amz-json-1.1")])
            elif target == "secretsmanager.BatchGetSecretValue":
                values = [secret_value(arn) for arn in json.loads(body)["SecretIdList"]]
                self.send(200, {"SecretValues": values, "Errors": []},
                          [("content-type", "application/x-amz-json-1.1")])
            elif target.startswith("DynamoDB_20120810."):
                operation = target.split(".", 1)[1]
                answer = {"Query": {"Items": [], "Count": 0, "ScannedCount": 0},
                          "BatchGetItem": {"Responses": {}, "UnprocessedKeys": {}},
                          "TransactGetItems": {"Responses": []}}.get(operation, {})
                self.send(200, answer, [("content-type", "application/x-amz-json-1.0")])
            elif path.startswith("/v2/email/outbound-emails"):
                self.send(200, {"MessageId": "coldstart-message"})
            else:
                self.send(200, {"id": "obj_coldstart", "object": "unknown"})

    return Handler


def certificates(directory):
    """A CA and a certificate it signs for 127.0.0.1, made with openssl: (CA file, chain, key)."""
    d = pathlib.Path(directory)

    def openssl(*args):
        subprocess.run(["openssl", *args], check=True, capture_output=True)

    openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "2",
            "-subj", "/CN=coldstart CA", "-keyout", d / "ca.key", "-out", d / "ca.pem")
    openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-subj", "/CN=127.0.0.1",
            "-keyout", d / "server.key", "-out", d / "server.csr")
    (d / "ext").write_text("subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\n"
                           "keyUsage=digitalSignature\nextendedKeyUsage=serverAuth\n")
    openssl("x509", "-req", "-in", d / "server.csr", "-CA", d / "ca.pem", "-CAkey", d / "ca.key", "-CAcreateserial",
            "-days", "2", "-extfile", d / "ext", "-out", d / "server.pem")
    return d / "ca.pem", d / "server.pem", d / "server.key"


def serve(fake, tls=None):
    """The fake on a loopback port, over TLS when given (chain, key); returns the server."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler(fake))
    server.daemon_threads = True
    if tls:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(*tls)
        server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def environment(name, port, services, ca=None):
    """`port`: the runtime API's (plain HTTP, as Lambda's); `services`: AWS's and Stripe's."""
    base = services
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": tempfile.gettempdir(),
        "AWS_LAMBDA_RUNTIME_API": f"127.0.0.1:{port}",
        "AWS_LAMBDA_FUNCTION_NAME": f"tollgate-{name}",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "256",
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/tollgate-{name}",
        "AWS_LAMBDA_LOG_STREAM_NAME": "2026/01/15/[$LATEST]coldstart",
        "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
        "AWS_REGION": "us-east-1",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "ASIACOLDSTART",
        "AWS_SECRET_ACCESS_KEY": "coldstart",
        "AWS_SESSION_TOKEN": "coldstart",
        "LAMBDA_TASK_ROOT": "/var/task",
        "_HANDLER": "bootstrap",
        # What template.yaml's Globals give every function.
        "TOLLGATE_ENV": "production",
        "STORE": "dynamodb",
        "TABLE_NAME": "tollgate",
        "BILLING_PORTAL_RETURN_URL": "https://app.example.com/account",
        "PAST_DUE_GRACE_DAYS": "7",
        "DISPUTE_REVOKES": "opened",
        "NEXTAUTH_SALT": "",
        "ADMIN_EMAILS": ADMIN,
        "JWT_ISSUER": "tollgate",
        "JWT_AUDIENCE": "tollgate-app",
        "EMAIL_SENDER": "ses",
        "EMAIL_FROM": "billing@example.com",
        "CHECKOUT_SUCCESS_URL": "https://app.example.com/success?session_id={CHECKOUT_SESSION_ID}",
        "CHECKOUT_CANCEL_URL": "https://app.example.com/",
        "PAYMENT_LINK_URL": "",
        "APP_VERSION": "coldstart",
        "RUST_LOG": "info",
        # Every service on this script's server.
        "DYNAMODB_ENDPOINT": base,
        "AWS_ENDPOINT_URL_SECRETS_MANAGER": base,
        "AWS_ENDPOINT_URL_SESV2": base,
        "STRIPE_API_BASE": base,
    }
    if ca:
        env["SSL_CERT_FILE"] = str(ca)
    env.update(EXTRA_ENV)
    for secret in FUNCTIONS[name][0]:
        env[f"{secret}_ARN"] = f"arn:aws:secretsmanager:us-east-1:123456789012:secret:{secret}"
    return env


def run_once(fake, port, binary, name, wrap=()):
    """`port`: (the runtime API's port, the services' base URL, the CA file or None)."""
    port, services, ca = port
    fake.reset(event_for(name))
    start = time.perf_counter()
    # Its own session, so a wrapper (strace, valgrind) dies with it.
    process = subprocess.Popen([*wrap, str(binary)], env=environment(name, port, services, ca), stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, start_new_session=True)
    try:
        done = fake.wait(300 if wrap else 20)
        rss = None
        status = pathlib.Path(f"/proc/{process.pid}/status")
        if status.exists():
            for line in status.read_text().splitlines():
                if line.startswith("VmHWM:"):
                    rss = int(line.split()[1]) / 1024
    finally:
        # A profiler writes its report when its program ends by a signal it can see.
        os.killpg(process.pid, signal.SIGTERM if wrap else signal.SIGKILL)
        output = process.communicate()[0].decode(errors="replace")
    if not done or fake.failure is not None or fake.first_poll is None:
        sys.exit(f"{name}: no answer ({fake.failure or 'timed out'}); its output:\n{output}")
    answer = json.loads(fake.response)
    if os.environ.get("COLDSTART_TRACE"):
        for at, what in fake.trace:
            print(f"  {(at - start) * 1000:7.2f} ms  {what}", file=sys.stderr)
    return {
        "init": (fake.first_poll - start) * 1000,
        "invoke": (fake.answered - fake.handed) * 1000,
        "rss": rss,
        # An HTTP function's status; an event function (mailer, reconcile) answers its own JSON.
        "status": answer.get("statusCode", "ok") if isinstance(answer, dict) else "ok",
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("names", nargs="*", default=[n for n in FUNCTIONS if n != "hello"])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--bin-dir", default=str(ROOT / "target" / "release"))
    parser.add_argument("--json", help="also write every run here")
    parser.add_argument("--wrap", default="", help="run each binary under this command (profilers), once")
    parser.add_argument("--plain", action="store_true", help="serve AWS and Stripe over HTTP, not HTTPS")
    parser.add_argument("--price-ids", action="store_true",
                        help="the catalog's prices written as ids (no Stripe lookup at start), not by amount")
    args = parser.parse_args()
    names = ["hello"] + [n for n in args.names if n != "hello"]
    bins = {n: pathlib.Path(args.bin_dir) / n for n in names}
    missing = [str(b) for b in bins.values() if not b.exists()]
    if missing:
        sys.exit(f"build them first (make coldstart does): {', '.join(missing)}")

    prices = stripe_prices(ROOT / "catalog.toml")
    fake = Fake(prices)
    server = serve(fake)
    workdir = tempfile.TemporaryDirectory()
    if args.price_ids:
        EXTRA_ENV["CATALOG_PATH"] = str(with_price_ids(ROOT / "catalog.toml", prices,
                                                       pathlib.Path(workdir.name) / "catalog.toml"))
    if args.plain:
        port = (server.server_address[1], f"http://127.0.0.1:{server.server_address[1]}", None)
    else:
        ca, chain, key = certificates(workdir.name)
        services = serve(fake, (chain, key))
        port = (server.server_address[1], f"https://127.0.0.1:{services.server_address[1]}", ca)

    if args.wrap:
        # Profiling: one run of each function under the wrapper, nothing measured.
        for n in names[1:]:
            print(n, run_once(fake, port, bins[n], n, shlex.split(args.wrap)))
        return
    runs = {n: [] for n in names}
    for n in names:  # one warm-up each (page cache), not counted
        run_once(fake, port, bins[n], n)
    for _ in range(args.runs):
        for n in names:
            runs[n].append(run_once(fake, port, bins[n], n))
    server.shutdown()

    hello_init = statistics.median(r["init"] for r in runs["hello"])
    hello_invoke = statistics.median(r["invoke"] for r in runs["hello"])
    served = "HTTP" if args.plain else "HTTPS"
    catalog = "; the catalog's prices written as ids" if args.price_ids else ""
    print(f"{args.runs} runs each, interleaved; AWS and Stripe over {served}{catalog}; medians; "
          "ratios to hello's median\n")
    print("| binary | size MB | init ms | init / hello | first invoke ms | invoke / hello | peak RSS MB | status |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for n in names:
        init = statistics.median(r["init"] for r in runs[n])
        invoke = statistics.median(r["invoke"] for r in runs[n])
        rss = max(r["rss"] or 0 for r in runs[n])
        size = bins[n].stat().st_size / 1e6
        statuses = ",".join(sorted({str(r["status"]) for r in runs[n]}))
        print(f"| {n} | {size:.2f} | {init:.2f} | {init / hello_init:.2f}x | {invoke:.2f} | "
              f"{invoke / hello_invoke:.1f}x | {rss:.1f} | {statuses} |")
    if args.json:
        pathlib.Path(args.json).write_text(json.dumps(runs, indent=1))


if __name__ == "__main__":
    main()
