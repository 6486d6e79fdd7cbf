# The two commands of the README: `make demo` and `make test`.
# Both create .venv in the repository root and install what is missing.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

WEB    := src/ecointegrity/web/static/index.html
WEB_SRC := $(wildcard frontend/src/* frontend/public/*) frontend/build.mjs frontend/package-lock.json

.PHONY: demo test lint install web clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# Re-install only when the project's dependency list changes.
$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e ".[test]"
	touch $(STAMP)

# The React-2-EO web app: npm installs the locked front-end packages, esbuild bundles them into
# the package's static folder, and the build fails when a page exceeds its size budget.
frontend/node_modules/.package-lock.json: frontend/package-lock.json
	cd frontend && npm ci --no-audit --no-fund
$(WEB): $(WEB_SRC) frontend/node_modules/.package-lock.json
	cd frontend && npm run --silent build

web: $(WEB)

install: $(STAMP) $(WEB)

demo: install
	$(BIN)/ecointegrity demo $(DEMO_ARGS)

test: install
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# Lint, import order and the types of the public API (settings in pyproject.toml).
lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks tools
	$(BIN)/mypy

clean:
	rm -rf $(VENV) build *.egg-info src/*.egg-info .pytest_cache ecointegrity-demo frontend/node_modules src/ecointegrity/web/static
