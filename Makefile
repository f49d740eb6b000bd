# The two commands: `make dev` runs Tollgate locally; `make test` runs every test.
VENV ?= .venv
PYTHON ?= python3
PORT ?= 3000

.PHONY: dev test model-long venv js browser package build clean perf-build coldstart webhook-load

$(VENV)/.installed: scripts/requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -r scripts/requirements.txt
	touch $@

venv: $(VENV)/.installed

# The token fixtures' npm packages (jose, next-auth), from the committed lockfile.
tests/js/node_modules/.package-lock.json: tests/js/package-lock.json
	npm ci --prefix tests/js --no-audit --no-fund

# @tollgate/client's packages (TypeScript, openapi-typescript, openapi-fetch, jose, React;
# esbuild and Chart.js for the demo; Playwright, which never downloads a browser here).
clients/js/node_modules/.package-lock.json: clients/js/package-lock.json
	PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --prefix clients/js --no-audit --no-fund

js: tests/js/node_modules/.package-lock.json clients/js/node_modules/.package-lock.json

# Debian's chromium, for the browser tests (Playwright drives it by its path).
browser:
	@command -v chromium >/dev/null || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -q && apt-get install -y -q chromium; \
	  else sudo apt-get update -q && sudo apt-get install -y -q chromium; fi; }

dev:
	DEBUG_AUTH_CODES=$${DEBUG_AUTH_CODES:-1} cargo run --bin tollgate -- dev --port $(PORT)

test: venv js browser
	$(VENV)/bin/cfn-lint template.yaml
	AWS_DEFAULT_REGION=us-east-1 SAM_CLI_TELEMETRY=0 $(VENV)/bin/sam validate --lint
	INSTA_UPDATE=no VENV=$(VENV) scripts/with-dynamodb.sh cargo test --workspace --no-fail-fast

# The model-based test's long run (in memory): TOLLGATE_MODEL_SEED=<seed> replays one.
model-long:
	TOLLGATE_MODEL_CASES=$${TOLLGATE_MODEL_CASES:-20000} cargo test -p tollgate-cli --test model in_memory -- --nocapture

build:
	TOLLGATE_GIT_REV=$$(git rev-parse --short HEAD 2>/dev/null) cargo build --workspace --release

$(VENV)/.packaging: scripts/requirements-package.txt $(VENV)/.installed
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -r scripts/requirements-package.txt
	touch $@

# Every function's arm64 bootstrap, as `sam deploy` uploads them (.aws-sam/build), built by
# cargo-lambda cross-compiling with zig (both from PyPI; no Docker); prints each one's size.
package: $(VENV)/.packaging
	@# Installed once, before sam build's parallel builds would each race to install it.
	rustup target add aarch64-unknown-linux-gnu
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" TOLLGATE_GIT_REV=$$(git rev-parse --short HEAD 2>/dev/null) \
		SAM_CLI_TELEMETRY=0 AWS_DEFAULT_REGION=us-east-1 $(VENV)/bin/sam build
	@ls -l .aws-sam/build/*/bootstrap | awk '{ printf "%-60s %6.2f MiB\n", $$9, $$5 / 1048576 }'

# Performance (README: Performance). Each function's release binary built on its own, so it links
# only the features it asks for (as `make package` builds them); the hello-world yardstick; then
# the CLI and the load driver.
FUNCTIONS = auth checkout webhook claim credits admin sessions mailer reconcile
perf-build:
	for f in $(FUNCTIONS) hello; do cargo build --release -p tollgate-$$f || exit 1; done
	cargo build --release -p tollgate-cli -p tollgate-load

# Cold starts under a fake Lambda runtime API, next to hello (scripts/coldstart.py; RUNS=20).
coldstart: perf-build
	$(PYTHON) scripts/coldstart.py --runs $${RUNS:-20}

# The webhook's throughput next to Express + stripe-node (scripts/webhook-load.sh).
bench/express-peer/node_modules/.package-lock.json: bench/express-peer/package-lock.json
	npm ci --prefix bench/express-peer --no-audit --no-fund

webhook-load: perf-build bench/express-peer/node_modules/.package-lock.json
	scripts/webhook-load.sh $${CONNECTIONS:-32} $${DURATION:-10}

clean:
	cargo clean
	rm -rf $(VENV) .aws-sam
