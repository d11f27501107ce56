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

# The admin tier (tests/admin) runs the proxy against Postgres. Prisma's native engines cannot
# be downloaded on our machines (CI's included); the litellm-db tool beside the repository
# (../shared/tools/litellm-db, in every clone CI makes) stands in for them. Where it is absent,
# Prisma's own engines are downloaded by `prisma generate` instead.
LITELLM_DB_TOOL ?= $(abspath ../shared/tools/litellm-db)
LITELLM_DB_STATE := .cache/litellm-db
APT_PACKAGES := chromium postgresql-15

.PHONY: install admin-deps lock lint typecheck test unit e2e run bench fuzz clean

install: $(VENV)/.installed

$(UV):
	$(PYTHON) -m venv $(UV_HOME)
	$(UV_HOME)/bin/pip install --quiet uv==$(UV_VERSION)

$(VENV)/.installed: pyproject.toml uv.lock | $(UV)
	$(UV) sync --frozen --all-extras --python $(PYTHON)
	touch $@

# What the admin tier needs besides the venv: Debian's chromium (driven by Playwright; its own
# browser download cannot work here) and Postgres 15 from apt, and LiteLLM's database engine.
admin-deps: install
	@missing=""; \
	[ -x /usr/bin/chromium ] || missing="$$missing chromium"; \
	[ -x /usr/lib/postgresql/15/bin/pg_ctl ] || missing="$$missing postgresql-15"; \
	if [ -n "$$missing" ]; then \
	  echo "admin-deps: installing$$missing with apt"; \
	  sudo=; [ "$$(id -u)" = 0 ] || sudo=sudo; \
	  $$sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$sudo apt-get install -y -qq $$missing; \
	fi
	@if [ -x "$(LITELLM_DB_TOOL)/setup" ]; then \
	  echo "admin-deps: LiteLLM's database engine from $(LITELLM_DB_TOOL)"; \
	  "$(LITELLM_DB_TOOL)/setup" $(LITELLM_DB_STATE) $(BIN)/python; \
	else \
	  echo "admin-deps: no litellm-db tool at $(LITELLM_DB_TOOL): Prisma's own engines (downloaded)"; \
	  schema=$$($(BIN)/python -c 'import importlib.util as u, os; print(os.path.join(u.find_spec("litellm").submodule_search_locations[0], "proxy", "schema.prisma"))'); \
	  PATH="$(abspath $(BIN)):$$PATH" $(BIN)/python -m prisma generate --schema "$$schema"; \
	fi

lock: | $(UV)
	$(UV) lock --python $(PYTHON)

lint: install
	$(BIN)/ruff check axonflow_guardrail tests bench
	$(BIN)/ruff format --check axonflow_guardrail tests bench

typecheck: install
	$(BIN)/mypy

test: lint typecheck admin-deps
	$(BIN)/pytest

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
