# The two commands a newcomer needs:  make demo  and  make test.
# Both create the virtual environment (.venv) and install everything on first use.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

.PHONY: demo test setup lint typecheck unit bench bench-quick clean

demo: $(STAMP)  ## build the bundled city network and show how fast it answers
	$(BIN)/mobility demo

test: $(STAMP) lint typecheck unit  ## lint, type-check and run the test suite

setup: $(STAMP)

$(STAMP): pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "$(PYTHON) not found: install Python 3.11+"; exit 1; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

unit: $(STAMP)
	$(BIN)/python -m pytest

bench: $(STAMP)  ## full shortest-path benchmark; writes benchmarks/results and the README table
	$(BIN)/mobility bench paths --update-readme

bench-quick: $(STAMP)
	$(BIN)/mobility bench paths --quick --out benchmarks/results/quick

clean:  ## remove the virtual environment, tool caches and Numba's compiled-kernel cache
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache build *.egg-info
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
