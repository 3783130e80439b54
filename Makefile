# tamtam: the single entry point. Every target works on a fresh clone.
SHELL := /bin/bash
.DEFAULT_GOAL := help

# python3.13 (the Lambda runtime): pyenv's 3.13 if there is one, else python3.13 on PATH.
PYTHON313 ?= $(shell p=$$(pyenv prefix 3.13 2>/dev/null | head -1); \
	if [ -n "$$p" ] && [ -x "$$p/bin/python3.13" ]; then echo "$$p/bin/python3.13"; \
	else command -v python3.13; fi)
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

# Infra tools, each in its own virtualenv under .tools/ (mk/infra.mk installs them).
SAM_VERSION := 1.170.0
CHECKOV_VERSION := 3.3.30
TOOLS := .tools
SAM := $(TOOLS)/sam/bin/sam
CHECKOV := $(TOOLS)/checkov/bin/checkov

export PYTHONPATH := $(CURDIR)/layers/shared:$(CURDIR)
export AWS_EC2_METADATA_DISABLED := true

.PHONY: help venv lint test test-unit test-integration test-e2e run tenant openapi clean

help: ## list the targets
	@grep -hE '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-18s %s\n", $$1, $$2}'

$(STAMP): requirements-dev.txt layers/shared/requirements.txt
	@if [ -z "$(PYTHON313)" ]; then echo "python3.13 not found (pyenv prefix 3.13, or python3.13 on PATH)"; exit 1; fi
	@test -x $(PY) || $(PYTHON313) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	@touch $(STAMP)

venv: $(STAMP) ## create the project virtualenv (python3.13)

lint: $(STAMP) ## ruff on every Python file, mypy --strict on the shared layer (settings: pyproject.toml)
	@status=0; \
	echo "$(PY) -m ruff check ."; $(PY) -m ruff check . || status=1; \
	echo "$(PY) -m mypy"; $(PY) -m mypy || status=1; \
	exit $$status

test: $(STAMP) tools lint ## install what is needed, lint, and run every test (unit, integration, e2e, infra)
	$(PY) -m pytest tests

test-unit: $(STAMP) ## unit tests only
	$(PY) -m pytest tests/unit

test-integration: $(STAMP) ## integration tests only
	$(PY) -m pytest tests/integration

test-e2e: $(STAMP) ## end-to-end tests (local stack over HTTP)
	$(PY) -m pytest tests/e2e

run: $(STAMP) ## start the whole gateway locally (moto, provider sandbox, API on 127.0.0.1:3000)
	$(PY) -m local.stack

tenant: $(STAMP) ## create a tenant and print its API key once: make tenant NAME=acme [AWS=1 ENV=dev]
	@test -n "$(NAME)" || { echo "usage: make tenant NAME=acme"; exit 2; }
	$(PY) -m local.tenant --name "$(NAME)" $(if $(AWS),--aws --env "$(ENV)",)

openapi: $(STAMP) ## write functions/api/openapi.json from the routes and models (the api function serves it)
	$(PY) -m local.openapi

clean: ## remove virtualenvs and build output
	rm -rf $(VENV) .tools .aws-sam .build .pytest_cache .local-stack .ruff_cache .mypy_cache

-include mk/*.mk
