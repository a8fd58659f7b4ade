# Two commands set up everything on a fresh machine: `make dev` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

# The SAM CLI pins boto3 and friends against the project's, so it lives in a venv of its own.
SAM_CLI_VERSION := 1.170.0
SAM_VENV := .venv-sam
SAM := $(SAM_VENV)/bin/sam
SAM_STAMP := $(SAM_VENV)/.installed-$(SAM_CLI_VERSION)
LAYER_REQUIREMENTS := layers/shared/requirements.txt

# Keeps builds and CI from reporting usage to AWS; set SAM_CLI_TELEMETRY=1 to opt back in.
SAM_CLI_TELEMETRY ?= 0
export SAM_CLI_TELEMETRY

.PHONY: dev test lint lint-template build layer-requirements openapi bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

$(SAM_STAMP):
	$(PYTHON) -m venv $(SAM_VENV)
	$(SAM_VENV)/bin/pip install --quiet --upgrade pip
	$(SAM_VENV)/bin/pip install --quiet aws-sam-cli==$(SAM_CLI_VERSION)
	touch $(SAM_STAMP)

# Runs the whole system locally: moto's AWS in-process, the API on http://127.0.0.1:$${PORT:-3000}.
dev: $(STAMP)
	$(BIN)/python -m infra.local

test: $(STAMP)
	$(BIN)/python -m pytest -n 2

lint: $(STAMP)
	$(BIN)/ruff check .

# Offline and without credentials: `sam validate` only skips its IAM lookups when linting.
lint-template: $(STAMP) $(SAM_STAMP)
	$(BIN)/cfn-lint template.yaml
	$(SAM) validate --lint --region us-east-1

# The layer is cross-installed with the SAM venv's pip (see layers/shared/Makefile); builds are cached in .aws-sam.
build: $(SAM_STAMP)
	PYTHON="$(CURDIR)/$(SAM_VENV)/bin/python" $(SAM) build

# The layer ships exactly the runtime dependencies; tests/infra fails when this file drifts from pyproject.toml.
layer-requirements:
	$(PYTHON) -c 'import tomllib; dependencies = tomllib.load(open("pyproject.toml", "rb"))["project"]["dependencies"]; print("# Generated from pyproject.toml by `make layer-requirements`; do not edit.", *dependencies, sep="\n")' > $(LAYER_REQUIREMENTS)

openapi: $(STAMP)
	$(BIN)/python -m infra.openapi > docs/openapi.json

# Cold-start figures: handler import times against a bare interpreter and boto3, in one run.
bench: $(STAMP)
	$(BIN)/python -m infra.bench

clean:
	rm -rf $(VENV) .venv-sam .aws-sam .meetbridge
