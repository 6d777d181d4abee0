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

.PHONY: setup protos demo run ingest test test-unit test-integration lint fmt clean

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

run: setup
	$(BIN)/switchboard run --agents-dir agents --port 50051

test: setup
	$(BIN)/pytest -q $(PYTEST_ARGS)

test-unit: setup
	$(BIN)/pytest -q tests/unit $(PYTEST_ARGS)

test-integration: setup
	$(BIN)/pytest -q tests/integration $(PYTEST_ARGS)

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy shared/switchboard supervisor/switchboard agents/switchboard tests
	@# generated code must match protos/
	@tmp=$$(mktemp -d) && $(PY) -m grpc_tools.protoc -I protos --python_out=$$tmp --pyi_out=$$tmp \
		--grpc_python_out=$$tmp $(PROTO_SRC) && diff -r $$tmp/switchboard/v1 $(PROTO_OUT) -x __pycache__ \
		&& rm -rf $$tmp || (echo "generated code is stale: run 'make protos'"; exit 1)

fmt: setup
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean:
	rm -rf $(VENV) .data .pytest_cache .mypy_cache .ruff_cache
