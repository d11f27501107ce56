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

.PHONY: install admin-deps lock lint typecheck test unit e2e run bench fuzz clean compat dist \
	package image container-test compose-up compose-down compose-test workers tiers

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
	$(BIN)/ruff check axonflow_guardrail tests bench tools
	$(BIN)/ruff format --check axonflow_guardrail tests bench tools

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
		tests/unit/request/test_request_text_fuzz.py tests/e2e/test_fuzz_proxy.py

# ---------------------------------------------------------------------- deployment tiers
# Each tier installs what it needs (apt packages only when missing) and says how long it took.
# `.ci/run` runs them all after `make test`.
IMAGE ?= localhost/litellm-axonflow:dev
# (podman-compose comes from PyPI into .venv: Debian's 1.0 cannot run host-network services)
CONTAINER_PACKAGES := podman runc debootstrap uidmap slirp4netns fuse-overlayfs \
	containernetworking-plugins
export CONTAINERS_CONF ?= $(CURDIR)/.ci/containers.conf
TIMED = tools/timed

# The end-to-end core against each chosen LiteLLM release; prints the matrix.
compat: install
	$(TIMED) compat $(BIN)/python tools/compat.py

# The wheel and sdist (uv build), into dist/.
dist: install
	rm -rf dist && $(UV) build --out-dir dist

# The wheel installed into a stock LiteLLM proxy environment, blocking and auditing.
package: install
	$(TIMED) package $(BIN)/pytest tests/deploy/test_wheel.py

# docker/Dockerfile built with podman (on a local stand-in base when no registry answers).
image: install
	tools/apt-ensure $(CONTAINER_PACKAGES)
	IMAGE=$(IMAGE) $(TIMED) image tools/build-image

container-test: image
	AXONFLOW_TEST_IMAGE=$(IMAGE) $(TIMED) container-test $(BIN)/pytest tests/deploy/test_container.py

# docker/compose.yaml: proxy + dev agent + Postgres + Redis (podman-compose or docker compose).
compose-up: image
	tools/compose up

compose-down:
	tools/compose down

compose-test: image
	AXONFLOW_TEST_IMAGE=$(IMAGE) $(TIMED) compose-test $(BIN)/pytest tests/deploy/test_compose.py

# The end-to-end core against `litellm --num_workers 2` on a real Redis, then the checks that
# need the worker count.
workers: install
	tools/apt-ensure redis-server
	AXONFLOW_TEST_PROXY_WORKERS=2 $(TIMED) workers-core $(BIN)/pytest -m compat_core tests/e2e
	$(TIMED) workers $(BIN)/pytest tests/workers

tiers: workers package container-test compose-test compat

clean:
	rm -rf $(VENV) .cache .mypy_cache .ruff_cache .pytest_cache
