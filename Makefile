# The single entry point for developers and CI. `make install` builds ./.venv from the lock file.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
UV_HOME := .cache/uv-bootstrap
UV := $(UV_HOME)/bin/uv
UV_VERSION := 0.13.9

# Offline-safe, quiet and local-only, for every command below.
export LITELLM_LOCAL_MODEL_COST_MAP := True
export AXONFLOW_TELEMETRY := off
export NO_PROXY := 127.0.0.1,localhost
export no_proxy := 127.0.0.1,localhost
export UV_PYTHON_DOWNLOADS := never

AGENT_PORT ?= 8080
PROXY_PORT ?= 4000

.PHONY: install lock lint typecheck test test-deps unit e2e run bench fuzz clean

install: $(VENV)/.installed

$(UV):
	$(PYTHON) -m venv $(UV_HOME)
	$(UV_HOME)/bin/pip install --quiet uv==$(UV_VERSION)

$(VENV)/.installed: pyproject.toml uv.lock | $(UV)
	$(UV) sync --frozen --all-extras --python $(PYTHON)
	touch $@

lock: | $(UV)
	$(UV) lock --python $(PYTHON)

lint: install
	$(BIN)/ruff check axonflow_guardrail tests bench
	$(BIN)/ruff format --check axonflow_guardrail tests bench

typecheck: install
	$(BIN)/mypy

test: lint typecheck test-deps
	$(BIN)/pytest

# System packages the tests start for real: redis-server (the audit outbox's Redis Stream
# tests, through pytest-redis). Installed from Debian when missing (CI runs as root).
test-deps:
	@command -v redis-server >/dev/null || { \
		echo "installing redis-server (apt)"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
			--no-install-recommends redis-server >/dev/null; }

# The dev agent (a local emulator of AxonFlow) in the background, the proxy in the foreground;
# Ctrl-C stops both.
run: install
	@$(BIN)/axonflow-guardrail dev-agent --port $(AGENT_PORT) & agent=$$!; \
	trap 'kill $$agent 2>/dev/null' EXIT INT TERM; \
	AXONFLOW_ENDPOINT=http://127.0.0.1:$(AGENT_PORT) \
	LITELLM_MASTER_KEY=$${LITELLM_MASTER_KEY:-sk-demo-master-key} \
	$(BIN)/litellm --config litellm_config.example.yaml --host 127.0.0.1 --port $(PROXY_PORT)

bench: install
	$(BIN)/python -m bench.run

# The fuzz tests with many more random examples than `make test` runs (hypothesis profile
# `long`, a fresh seed each time): the extractor, then real requests through the proxy.
fuzz: install
	HYPOTHESIS_PROFILE=long $(BIN)/pytest -p no:cacheprovider \
		tests/unit/test_request_text_fuzz.py tests/e2e/test_fuzz_proxy.py

clean:
	rm -rf $(VENV) .cache .mypy_cache .ruff_cache .pytest_cache
