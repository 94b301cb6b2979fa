# Every target sets up .venv itself, so a fresh clone needs only Python >= 3.11: the first of
# python3.11, python3.12, python3.13, python3 on PATH that is one (or: make PYTHON=/path/to/python).
PYTHON ?= $(shell for p in python3.11 python3.12 python3.13 python3; do \
	$$p -c 'import sys; sys.exit(sys.version_info < (3, 11))' >/dev/null 2>&1 && { echo $$p; break; }; \
	done)
NO_PYTHON := No Python >= 3.11 found (tried python3.11, python3.12, python3.13, python3); install one or run make PYTHON=/path/to/python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: test chromium demo bench bench-peer bench-load lint mutants conformance corpus docs dist clean which-python

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || test -n "$(PYTHON)" || { echo "$(NO_PYTHON)"; exit 1; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip uninstall --quiet --yes quickjs python-quickjs-ng  # same module name as edwh-quickjs-ng's
	$(BIN)/python -m pip install --quiet -e '.[test]'
	$(BIN)/python -m pip install --quiet --force-reinstall --no-deps 'edwh-quickjs-ng>=0.14.0.3,<0.15'
	touch $(STAMP)

lint: $(STAMP)
	$(BIN)/ruff check .

test: lint chromium
	$(BIN)/python -m pytest -q

# tests/test_serve_browser.py runs a React page in Debian's `chromium`: installed here when it is
# missing and apt-get can be run as root (quietly); otherwise that test skips, saying what to install.
chromium:
	@command -v chromium >/dev/null 2>&1 || { test "$$(id -u 2>/dev/null)" = 0 && command -v apt-get >/dev/null 2>&1 \
		&& echo "installing chromium (apt-get) for tests/test_serve_browser.py" \
		&& { { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; } \
			>/dev/null 2>&1 || echo "could not install chromium: tests/test_serve_browser.py will skip"; }; } \
		|| true

# Semantic mutants of the committer, read sets, subscriptions and the checkers (tools/mutants.py):
# each must make the suite fail. The unmutated copy runs first and must pass (the control).
mutants: $(STAMP)
	$(BIN)/python tools/mutants.py

# The docs site (mkdocs, material theme, API pages from docstrings): a warning fails the build.
DOCS_STAMP := $(VENV)/.docs-installed
$(DOCS_STAMP): $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[docs]'
	touch $(DOCS_STAMP)

docs: $(DOCS_STAMP)
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --quiet

demo: $(STAMP)
	$(BIN)/python -m convex_sim.cli demo

# bench_peer.py and bench_typescript.py run the peer (node, npm, minutes): target bench-peer.
# bench_load.py (long runs, minutes): target bench-load.
bench: $(STAMP)
	@for f in benchmarks/bench_*.py; do \
		case "$$f" in benchmarks/bench_peer.py|benchmarks/bench_typescript.py|benchmarks/bench_load.py) continue;; esac; \
		echo "== $$f"; $(BIN)/python $$f || exit 1; done

# Long runs, each in a fresh process: wall time and peak RSS (BENCH_LOAD_SCALE=0.1 for a quick run).
bench-load: $(STAMP)
	$(BIN)/python benchmarks/bench_load.py

# convex-sim (Python and TypeScript) and convex-test (../shared/peer/convex-test-bench)
# side by side, in one run.
bench-peer: $(STAMP)
	$(BIN)/python benchmarks/bench_peer.py

# convex-sim and convex-test on the same TypeScript apps (ts_bank, ts_inventory, and convex-test's
# own app from the corpus checkout, skipped with the reason when absent): 1,000 seeded call
# sequences each, with time advances, scheduled functions and HTTP requests; a table per app
# (make test runs a short version where node is present).
conformance: $(STAMP)
	$(BIN)/python conformance/differential.py 1000 1

# Real public Convex projects (corpus/manifest.toml, fetched to ../corpus or $CONVEX_SIM_CORPUS):
# install each, load it, call every function, route and cron; print the table of outcomes.
corpus: $(STAMP)
	$(BIN)/python tools/corpus.py

# The interpreter that would make .venv.
which-python:
	@test -n "$(PYTHON)" || { echo "$(NO_PYTHON)"; exit 1; }; echo "$(PYTHON)"

# A wheel and an sdist in dist/, to install convex-sim into another project's environment
# (docs/index.md, "Install into your project").
dist: $(STAMP)
	$(BIN)/python -m pip install --quiet build
	rm -rf dist
	$(BIN)/python -m build --outdir dist .

clean:
	rm -rf $(VENV) build dist site *.egg-info .pytest_cache .hypothesis
