# The two commands: `make dev` runs Tollgate locally; `make test` runs every test.
VENV ?= .venv
PYTHON ?= python3
PORT ?= 3000

.PHONY: dev test model-long venv lint-template build sam-build clean

$(VENV)/.installed: scripts/requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -r scripts/requirements.txt
	touch $@

venv: $(VENV)/.installed

dev:
	DEBUG_AUTH_CODES=$${DEBUG_AUTH_CODES:-1} cargo run --bin tollgate -- dev --port $(PORT)

test: venv
	$(VENV)/bin/cfn-lint template.yaml
	INSTA_UPDATE=no VENV=$(VENV) scripts/with-dynamodb.sh cargo test --workspace --no-fail-fast

# The model-based test's long run (in memory): TOLLGATE_MODEL_SEED=<seed> replays one.
model-long:
	TOLLGATE_MODEL_CASES=$${TOLLGATE_MODEL_CASES:-20000} cargo test -p tollgate-cli --test model in_memory -- --nocapture

build:
	cargo build --workspace --release

# Needs cargo-lambda (`pip install cargo-lambda`) and aws-sam-cli.
sam-build:
	sam build

clean:
	cargo clean
	rm -rf $(VENV) .aws-sam
