# Every target sets up .venv itself, so a fresh clone needs only Python 3.11.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: test demo bench bench-peer lint clean docs

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

lint: $(STAMP)
	$(BIN)/ruff check .

test: lint
	$(BIN)/python -m pytest -q

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
bench: $(STAMP)
	@for f in benchmarks/bench_*.py; do \
		case "$$f" in benchmarks/bench_peer.py|benchmarks/bench_typescript.py) continue;; esac; \
		echo "== $$f"; $(BIN)/python $$f || exit 1; done

# convex-sim (Python and TypeScript) and convex-test (../shared/peer/convex-test-bench)
# side by side, in one run.
bench-peer: $(STAMP)
	$(BIN)/python benchmarks/bench_peer.py

clean:
	rm -rf $(VENV) build site *.egg-info .pytest_cache .hypothesis
