# Two commands set up everything on a fresh machine: `make dev` and `make test`.
# The venv runs the Python that Lambda runs (template.yaml's Runtime) when the machine has it: on the
# PATH or under pyenv (whose shim may exist without selecting it, hence the check that it runs).
RUNTIME_PYTHON := $(shell sed -n 's/^ *Runtime: *//p' template.yaml | head -n 1)
PYTHON ?= $(firstword $(shell for candidate in $$(command -v $(RUNTIME_PYTHON)) $$HOME/.pyenv/versions/$(RUNTIME_PYTHON:python%=%).*/bin/$(RUNTIME_PYTHON); do "$$candidate" -c '' 2>/dev/null && echo "$$candidate"; done) python3)
PYTHON_VERSION := $(shell $(PYTHON) -c 'import sys; print("python%d.%d" % sys.version_info[:2])')
VENV := .venv
BIN := $(VENV)/bin
# Named after the interpreter: a venv of another Python is made again.
STAMP := $(VENV)/.installed-$(PYTHON_VERSION)

# The SAM CLI pins boto3 and friends against the project's, so it lives in a venv of its own.
SAM_CLI_VERSION := 1.170.0
SAM_VENV := .venv-sam
SAM := $(SAM_VENV)/bin/sam
SAM_STAMP := $(SAM_VENV)/.installed-$(SAM_CLI_VERSION)
# The SAM CLI only builds and lints, so any Python it supports will do.
SAM_PYTHON ?= python3
LAYER_REQUIREMENTS := layers/shared/requirements.txt

# The browser tests' browser (tests/e2e/browser): Debian's chromium package, never a browser download
# (Playwright's own `playwright install` is not used). Installing it needs root, or sudo for apt-get.
CHROMIUM := /usr/bin/chromium
AS_ROOT := $(if $(filter 0,$(shell id -u)),,sudo)

# Keeps builds and CI from reporting usage to AWS; set SAM_CLI_TELEMETRY=1 to opt back in.
SAM_CLI_TELEMETRY ?= 0
export SAM_CLI_TELEMETRY

.PHONY: dev test lint lint-template build layer-requirements openapi bench load clean

$(STAMP): pyproject.toml
	@[ "$(PYTHON_VERSION)" = "$(RUNTIME_PYTHON)" ] || echo "note: $(RUNTIME_PYTHON) (Lambda's runtime) not found, using $(PYTHON_VERSION); install $(RUNTIME_PYTHON) or set PYTHON=/path/to/$(RUNTIME_PYTHON)"
	@[ "$$($(BIN)/python -c 'import sys; print("python%d.%d" % sys.version_info[:2])' 2>/dev/null)" = "$(PYTHON_VERSION)" ] || rm -rf $(VENV)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

$(SAM_STAMP):
	$(SAM_PYTHON) -m venv $(SAM_VENV)
	$(SAM_VENV)/bin/pip install --quiet --upgrade pip
	$(SAM_VENV)/bin/pip install --quiet aws-sam-cli==$(SAM_CLI_VERSION)
	touch $(SAM_STAMP)

# Runs the whole system locally: moto's AWS in-process, the API on http://127.0.0.1:$${PORT:-3000}.
dev: $(STAMP)
	$(BIN)/python -m infra.local

# A target that is the file itself: nothing runs once Chromium is there.
$(CHROMIUM):
	@command -v apt-get >/dev/null || { echo "$(CHROMIUM) is missing and this is not Debian: install Chromium as $(CHROMIUM)" >&2; exit 1; }
	$(AS_ROOT) apt-get update -q
	$(AS_ROOT) env DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium

test: $(STAMP) $(CHROMIUM)
	$(BIN)/python -m pytest -n 2

lint: $(STAMP)
	$(BIN)/ruff check .

# Offline and without credentials: `sam validate` only skips its IAM lookups when linting.
lint-template: $(STAMP) $(SAM_STAMP)
	$(BIN)/cfn-lint template.yaml
	$(SAM) validate --lint --region us-east-1

# The layer is cross-installed with the SAM venv's pip, and the bytecode of the layer and the functions
# is compiled by the runtime's Python (see layers/shared/Makefile); builds are cached in .aws-sam.
build: $(SAM_STAMP)
	@[ "$(PYTHON_VERSION)" = "$(RUNTIME_PYTHON)" ] || { echo "make build needs $(RUNTIME_PYTHON) (Lambda's runtime) to compile the bytecode it ships; found $(PYTHON_VERSION): install $(RUNTIME_PYTHON) or set PYTHON=/path/to/$(RUNTIME_PYTHON)" >&2; exit 1; }
	PYTHON="$(CURDIR)/$(SAM_VENV)/bin/python" RUNTIME_PYTHON="$(PYTHON)" $(SAM) build

# The layer ships exactly the runtime dependencies; tests/infra fails when this file drifts from pyproject.toml.
layer-requirements:
	$(PYTHON) -c 'import tomllib; dependencies = tomllib.load(open("pyproject.toml", "rb"))["project"]["dependencies"]; print("# Generated from pyproject.toml by `make layer-requirements`; do not edit.", *dependencies, sep="\n")' > $(LAYER_REQUIREMENTS)

openapi: $(STAMP)
	$(BIN)/python -m infra.openapi > docs/openapi.json

# Cold-start figures: each function's import and first invocation from the built artifacts (it runs `make build`
# when they are stale), as ratios to `import boto3; boto3.client('dynamodb')` in one run.
bench: $(STAMP)
	$(BIN)/python -m infra.bench

# The local stack under an open-loop booking load: latencies, the nothing-lost check, AWS calls and dollars per
# 1,000 bookings (docs/performance.md). LOAD_ARGS='--rate 20 --duration 60', '--smoke', '--profile --out DIR'.
load: $(STAMP)
	$(BIN)/python -m infra.load $(LOAD_ARGS)

clean:
	rm -rf $(VENV) .venv-sam .aws-sam .meetbridge
