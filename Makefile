# Two commands set up everything on a fresh machine: `make dev` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: dev test lint-template build openapi bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

# Runs the whole system locally: moto's AWS in-process, the API on http://127.0.0.1:$${PORT:-3000}.
dev: $(STAMP)
	$(BIN)/python -m infra.local

test: $(STAMP)
	$(BIN)/python -m pytest -n 2

openapi: $(STAMP)
	$(BIN)/python -m infra.openapi > docs/openapi.json

clean:
	rm -rf $(VENV) .venv-sam .aws-sam .meetbridge
