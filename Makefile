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

.PHONY: install lock lint typecheck test unit e2e run bench clean compat dist package image \
	container-test compose-up compose-down compose-test workers tiers

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
	$(BIN)/ruff check axonflow_guardrail tests bench tools
	$(BIN)/ruff format --check axonflow_guardrail tests bench tools

typecheck: install
	$(BIN)/mypy

test: lint typecheck
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
