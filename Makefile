# Kubarr operator: the two commands a newcomer needs are `make demo` and `make test`.
# Both install what they need on first use (virtualenv, Debian packages, the local
# control plane built from Go modules and cached in ~/.cache/kubarr).

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
PYTEST_ARGS ?=

.PHONY: help install system-deps plane demo demo-down test test-unit test-integration \
	lint format crds bench kind-up deploy clean

help:
	@echo "make demo       run the operator on a local control plane and show kubectl get kubarr"
	@echo "make demo-down  stop the demo's control plane and remove its state"
	@echo "make test       unit, app and integration tests (installs what they need)"
	@echo "make lint       ruff format --check, ruff check, mypy"
	@echo "make crds       regenerate crds/ from operator/kubarr_operator/spec.py"

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet -e '.[dev]'
	@touch $@

install: $(STAMP)

system-deps:
	bash hack/system-deps.sh

plane: $(STAMP)
	$(PY) hack/localplane.py build

demo: $(STAMP)
	$(PY) hack/demo.py

demo-down: $(STAMP)
	$(PY) hack/demo.py --down

test: $(STAMP) system-deps plane
	$(PY) -m pytest $(PYTEST_ARGS)

test-unit: $(STAMP)
	$(PY) -m pytest tests/unit $(PYTEST_ARGS)

test-integration: $(STAMP) plane
	$(PY) -m pytest tests/integration $(PYTEST_ARGS)

lint: $(STAMP)
	$(VENV)/bin/ruff format --check operator app hack tests bench
	$(VENV)/bin/ruff check operator app hack tests bench
	$(VENV)/bin/mypy operator/kubarr_operator app/kubarr_app hack/localplane.py

format: $(STAMP)
	$(VENV)/bin/ruff format operator app hack tests
	$(VENV)/bin/ruff check --fix operator app hack tests

crds: $(STAMP)
	$(PY) -m kubarr_operator.crd > crds/kubarr.io_kubarrinstances.yaml

# Benchmarks (not part of `make test`): writes docs/benchmarks.md.
# `make bench QUICK=1` finishes in a few minutes.
bench: $(STAMP) plane
	$(PY) bench/run.py $(if $(QUICK),--quick)

# For people with Docker: a kind cluster and the operator image. Not runnable on
# machines without a container engine (the project's CI machines among them).
kind-up:
	kind create cluster --name kubarr

deploy:
	docker build -f operator/Dockerfile -t ghcr.io/kubarr/kubarr-operator:0.1.0 .
	kind load docker-image ghcr.io/kubarr/kubarr-operator:0.1.0 --name kubarr
	kubectl apply --server-side -k manifests

clean:
	rm -rf $(VENV) .demo .pytest_cache .mypy_cache .ruff_cache
