# The two commands of the README: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20
export JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION := 1

.PHONY: env demo test lint synth bench reliability reliability-large openapi clean

$(STAMP): requirements.lock pyproject.toml package.json
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -r requirements.lock
	$(BIN)/python -m pip install -q --no-deps -e .
	npm ci --no-audit --no-fund --loglevel=error
	@command -v chromium >/dev/null || command -v chromium-browser >/dev/null || \
	  { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null && \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) ; } || \
	  echo "note: no Chromium found; the HTML report's browser test needs one (apt-get install chromium)"
	touch $(STAMP)

env: $(STAMP)

demo: $(STAMP)
	$(BIN)/billbridge demo --yes

test: $(STAMP)
	$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check functions infra tests benchmarks app.py
	$(BIN)/lint-imports
	$(BIN)/mypy functions/billbridge/domain functions/billbridge/app functions/billbridge/reporting

synth: $(STAMP)
	npx cdk synth -q --no-notices

bench: $(STAMP)
	$(BIN)/python -m benchmarks.run_all

reliability: $(STAMP)
	$(BIN)/python -m pytest tests/reliability -q
	$(BIN)/python -m benchmarks.reliability_table

reliability-large: $(STAMP)
	BILLBRIDGE_LARGE=1 $(BIN)/python -m pytest tests/reliability -q -m large
	$(BIN)/python -m benchmarks.reliability_table

openapi: $(STAMP)
	$(BIN)/python -m billbridge.entrypoints.api.openapi_document > docs/openapi.yaml

clean:
	rm -rf $(VENV) node_modules cdk.out .build
