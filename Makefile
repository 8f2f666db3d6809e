# The two commands a newcomer needs:  make demo  and  make test.
# Both create the virtual environment (.venv) and install everything on first use.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
# The dashboard page's npm libraries (leaflet, uplot), pinned by dashboard/web/package-lock.json.
WEB       := dashboard/web
WEB_STAMP := $(WEB)/node_modules/.installed-stamp

.PHONY: proto demo test system-deps setup lint typecheck unit bench bench-paths bench-darp bench-pdptw bench-dispatch bench-sim bench-serve bench-tndp bench-pooling bench-rideshare bench-traffic bench-dashboard bench-quick clean

demo: $(STAMP) $(WEB_STAMP)  ## simulate the bundled I-MOD day (imod_jamsil) and print its KPIs
	$(BIN)/mobility demo

test: $(STAMP) $(WEB_STAMP) system-deps lint typecheck unit  ## lint, type-check and run the test suite

# The store tests start a real redis-server (also one over TLS); the serve benchmark's TLS round
# makes its certificate with openssl; the dashboard's browser tests drive Debian's chromium. Install
# the missing ones (Debian/Ubuntu apt-get, through sudo when not root).
system-deps:  ## make sure redis-server, openssl and chromium are installed (store and browser tests)
	@missing=; \
	  command -v redis-server >/dev/null || missing="$$missing redis-server"; \
	  command -v openssl >/dev/null || missing="$$missing openssl"; \
	  command -v chromium >/dev/null || missing="$$missing chromium"; \
	  [ -z "$$missing" ] || { \
	  command -v apt-get >/dev/null || { echo "not found:$$missing, and no apt-get: install them by hand (Redis 6 or newer, with TLS; Chromium as chromium)"; exit 1; }; \
	  SUDO=; if [ "$$(id -u)" -ne 0 ] && command -v sudo >/dev/null; then SUDO=sudo; fi; \
	  echo "installing$$missing (apt-get)"; \
	  $$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq $$missing; }

setup: $(STAMP) $(WEB_STAMP)  ## create .venv and install the Python packages, and the dashboard page's npm libraries

$(STAMP): pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "$(PYTHON) not found: install Python 3.11+"; exit 1; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

# node and npm from apt-get when missing (as redis-server above); `npm ci` installs exactly the
# versions of package-lock.json into dashboard/web/node_modules (the server serves their dist/
# folders; nothing is loaded from the internet at run time). Runs again when the lock file changes.
$(WEB_STAMP): $(WEB)/package.json $(WEB)/package-lock.json
	@command -v npm >/dev/null || { \
	  command -v apt-get >/dev/null || { echo "npm not found and no apt-get: install Node.js (18 or newer) and npm by hand"; exit 1; }; \
	  SUDO=; if [ "$$(id -u)" -ne 0 ] && command -v sudo >/dev/null; then SUDO=sudo; fi; \
	  echo "installing nodejs and npm (apt-get)"; \
	  $$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq nodejs npm; }
	@echo "npm ci --prefix $(WEB)"
	@npm ci --prefix $(WEB) --no-audit --no-fund --loglevel=error >/dev/null
	@touch $@

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

unit: $(STAMP) $(WEB_STAMP)
	$(BIN)/python -m pytest

# The full benchmarks write benchmarks/results and the README tables. Expected durations on
# 2 cores: paths a few minutes; DARP 24 instances x (10 + 60) s x 2 solvers, about 56 minutes;
# PDPTW 56 instances x 10 s x 2 solvers, about 20 minutes; dispatch a few minutes; serve about 2 minutes;
# TNDP about 40 minutes; pooling (the 27-point grid in both modes and the day in both modes) about 1.5 hours.
# The dashboard in the browser (bench-dashboard, 3,000 taxis for 10 minutes, then the peer for 2; needs chromium)
# about 13 minutes. Ride-sharing (10,000 requests at 20 and 450 s, 2,000 and 5,000 at 20 s, pinned to core 0) about 9 minutes.
# Traffic (the Jamsil day and a Helsinki peak hour, BPR and SUMO) about 4 minutes.
bench: bench-paths bench-dispatch bench-sim bench-serve bench-darp bench-pdptw bench-tndp bench-pooling bench-rideshare bench-traffic  ## every benchmark, one after the other (about 3.8 hours)

bench-paths: $(STAMP)  ## shortest paths: CH vs Dijkstra, scipy, networkx
	$(BIN)/mobility bench paths --update-readme

bench-darp: $(STAMP)  ## DARP (Cordeau 2006): ours vs OR-Tools at 10 and 60 s
	$(BIN)/mobility bench darp --time-limit 10 60 --update-readme

bench-pdptw: $(STAMP)  ## PDPTW (Li & Lim, 100 tasks): ours vs PyVRP at 10 s
	$(BIN)/mobility bench pdptw --time-limit 10 --update-readme

bench-dispatch: $(STAMP)  ## dispatch latency with 16, 300 and 3,000 vehicles on Manhattan
	$(BIN)/mobility bench dispatch --update-readme

bench-sim: $(STAMP)  ## simulator speed: the I-MOD day and the 10,000-request Manhattan day
	$(BIN)/mobility bench sim --update-readme

bench-serve: $(STAMP) system-deps  ## live engine under load (memory store, then a temporary redis-server)
	$(BIN)/mobility bench serve --clients 4 16 --update-readme

bench-tndp: $(STAMP)  ## bus network design, CEC-2013 (Mandl, Mumford0/1/3): 3 seeds + a Pareto run each, 2 at a time (about 40 minutes)
	$(BIN)/mobility bench tndp --workers 2 --update-readme

bench-pooling: $(STAMP)  ## shared taxi (I-MOA) on Manhattan: batch matching vs immediate insertion, grid and day
	$(BIN)/mobility bench pooling --grid --day --update-readme

bench-rideshare: $(STAMP)  ## city-scale ride-sharing on Manhattan (HGA instances) beside the published HGA, pruneGDP, FESI; one core
	@if command -v taskset >/dev/null; then taskset -c 0 $(BIN)/mobility bench rideshare --update-readme; \
	  else $(BIN)/mobility bench rideshare --update-readme; fi

bench-traffic: $(STAMP)  ## SUMO traffic: the Jamsil day and a Helsinki peak hour, with BPR and with SUMO
	$(BIN)/mobility bench traffic --update-readme

bench-dashboard: $(STAMP)  ## the dashboard in headless chromium: apply time of a 3,000-vehicle update, page memory over 10 minutes
	$(BIN)/mobility bench dashboard --vehicles 3000 --minutes 10 --update-readme

bench-quick: $(STAMP)  ## smoke test of every benchmark at small sizes, no verdicts (a few minutes)
	$(BIN)/mobility bench paths --quick --out benchmarks/results/quick
	$(BIN)/mobility bench darp --quick --out benchmarks/results/quick
	$(BIN)/mobility bench pdptw --quick --out benchmarks/results/quick
	$(BIN)/mobility bench dispatch --quick --out benchmarks/results/quick
	$(BIN)/mobility bench sim --quick --out benchmarks/results/quick
	$(BIN)/mobility bench serve --quick --out benchmarks/results/quick
	$(BIN)/mobility bench tndp --quick --out benchmarks/results/quick
	$(BIN)/mobility bench pooling --quick --out benchmarks/results/quick
	$(BIN)/mobility bench rideshare --quick --out benchmarks/results/quick
	$(BIN)/mobility bench traffic --quick --out benchmarks/results/quick

proto: $(STAMP)  ## regenerate proto/mobility/v1/*_pb2*.py(i) beside proto/mobility/v1/*.proto (checked in; a test fails if stale)
	$(BIN)/python -m proto.generate

clean:  ## remove the virtual environment, the page's node_modules, tool caches and Numba's compiled-kernel cache
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache build *.egg-info $(WEB)/node_modules
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
