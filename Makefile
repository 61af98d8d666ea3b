# frontdesk — the README's commands. `make run` starts the product, `make test` runs every test.
SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV      := .venv
PY        := $(VENV)/bin/python
BOT_VENV  := bot/.venv
HOST_PY   ?= python3

.PHONY: help run gateway cluster train test test-core lint pytest bench setup system-deps lock clean

help:
	@echo "make run    set everything up, train the bot if needed, start Rasa + gateway (embedded Redis)"
	@echo "make test   set everything up (redis-server, chromium, npm packages) and run the whole suite"
	@echo "make cluster  nginx + 3 gateways + 2 Rasa + Redis with Sentinel on this machine (deploy/)"
	@echo "make test-core  the fast layer only (conversation model and routing rules, seconds)"
	@echo "make bench  run the benchmarks and print their figures (BENCH_ARGS=--quick: tiny sizes)"
	@echo "make lock   refresh requirements.lock and bot/requirements.lock (exact versions, hashes)"

# --- environments ---------------------------------------------------------------------------
# Every Python package comes from a lock file with exact versions and hashes, so a fresh clone
# installs the same versions next month as today. `make lock` refreshes them from the ranges in
# pyproject.toml and bot/requirements.in.
$(VENV)/.stamp: requirements.lock pyproject.toml
	test -x $(PY) || $(HOST_PY) -m venv $(VENV)
	$(PY) -m pip install --quiet --require-hashes -r requirements.lock
	$(PY) -m pip install --quiet --no-deps -e .
	touch $@

# Rasa 3.6 needs Python 3.10: python3.10 on PATH, else pyenv's 3.10.
$(BOT_VENV)/.stamp: bot/requirements.lock
	@py=$$(scripts/find-python310) || { echo "Rasa needs Python 3.10; none found (PATH, pyenv)"; exit 1; }; \
	 echo "Creating the bot environment with $$py (about 3 minutes)…"; \
	 test -x $(BOT_VENV)/bin/python || $$py -m venv $(BOT_VENV)
	$(BOT_VENV)/bin/pip install --quiet --require-hashes -r bot/requirements.lock
	touch $@

LOCK_FLAGS := --generate-hashes --quiet --python-platform x86_64-manylinux_2_28
lock: $(VENV)/.stamp
	$(VENV)/bin/uv pip compile pyproject.toml --extra dev --python-version 3.11 $(LOCK_FLAGS) -o requirements.lock
	$(VENV)/bin/uv pip compile bot/requirements.in --python-version 3.10 $(LOCK_FLAGS) -o bot/requirements.lock

widget/node_modules/.stamp: widget/package.json widget/package-lock.json
	cd widget && npm ci --no-audit --no-fund --loglevel=error
	touch $@

# The stock Rasa web client (rasa-webchat 1.0.1) that tests/test_browser_webchat.py drives.
tests/webchat/node_modules/.stamp: tests/webchat/package.json tests/webchat/package-lock.json
	cd tests/webchat && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error
	touch $@

# The console's charting library (Chart.js, pinned), served at /console/vendor/ for the reports.
CONSOLE_NPM := frontdesk/console/node_modules/.stamp
$(CONSOLE_NPM): frontdesk/console/package.json frontdesk/console/package-lock.json
	cd frontdesk/console && npm ci --no-audit --no-fund --loglevel=error
	touch $@

setup: $(VENV)/.stamp $(BOT_VENV)/.stamp widget/node_modules/.stamp $(CONSOLE_NPM)

# Debian packages the tests and `make cluster` use: a real redis-server (also the sentinels:
# `redis-server --sentinel`), headless Chromium and nginx.
system-deps:
	@missing=""; command -v redis-server >/dev/null || missing="$$missing redis-server"; \
	 command -v chromium >/dev/null || missing="$$missing chromium"; \
	 command -v nginx >/dev/null || test -x /usr/sbin/nginx || missing="$$missing nginx"; \
	 if [ -n "$$missing" ]; then \
	   echo "Installing$$missing with apt…"; \
	   sudo=""; [ "$$(id -u)" = 0 ] || sudo=sudo; \
	   $$sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$sudo apt-get install -y -qq $$missing; \
	 fi

# --- the product ----------------------------------------------------------------------------
train: $(VENV)/.stamp $(BOT_VENV)/.stamp
	$(PY) server.py train

run: setup train
	$(PY) server.py run

gateway: $(VENV)/.stamp widget/node_modules/.stamp $(CONSOLE_NPM)
	$(PY) server.py gateway

# deploy/README.md's topology on this machine, on loopback: nginx on CLUSTER_PORT in front of
# 3 gateways, 2 Rasa, a Redis primary + replica and 3 sentinels (var/cluster). Ctrl-C stops it.
CLUSTER_PORT ?= 8080
cluster: setup system-deps train
	$(PY) -m frontdesk.cluster --port $(CLUSTER_PORT)

# --- checks ---------------------------------------------------------------------------------
lint: $(VENV)/.stamp
	$(VENV)/bin/ruff check frontdesk server.py tests bench
	$(VENV)/bin/mypy

pytest: setup system-deps train tests/webchat/node_modules/.stamp
	$(VENV)/bin/pytest $(PYTEST_ARGS)

test: setup system-deps train lint pytest

# The fast layer on its own: no Redis, Rasa or browser (pytest also runs it first in `make test`).
test-core: $(VENV)/.stamp
	$(VENV)/bin/pytest tests/core

# BENCH_ARGS=--quick: every bench at tiny sizes (does it still run?); --only NAME,NAME.
bench: setup train
	$(PY) bench/run_all.py $(BENCH_ARGS)

clean:
	rm -rf $(VENV) $(BOT_VENV) widget/node_modules frontdesk/console/node_modules bot/models var
