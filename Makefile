# One command each: `make report` builds the paper, `make test` runs every test.
# Both create .venv on first use and install the pinned requirements; later runs reuse it.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PY     := $(BIN)/python
REPORT_DEPS := $(VENV)/.report-deps
FULL_DEPS   := $(VENV)/.full-deps
PIP    := $(PY) -m pip install --disable-pip-version-check -q

.PHONY: report test experiments experiments-quick check site verify release clean distclean help

help:
	@echo "make report        build dist/<slug>-v<version>.html and .pdf from results/ (no experiments)"
	@echo "make test          install everything and run the whole test suite"
	@echo "make experiments   run every experiment (PyTorch and TensorFlow) and write results/"
	@echo "make check         validate results, references and templates without rendering"
	@echo "make site          build the MkDocs site (paper, PDF, data, docs) into site/"
	@echo "make verify        build twice from this commit and check the outputs are byte-identical"
	@echo "make release       check the tree, version and changelog, build, write dist/SHA256SUMS"
	@echo "make clean         remove dist/, build/ and caches (keeps .venv)"

$(PY):
	$(PYTHON) -m venv $(VENV)

# Light dependencies only: rebuilding the paper needs no deep-learning framework.
$(REPORT_DEPS): requirements/report.txt | $(PY)
	$(PIP) -r requirements/report.txt
	@touch $@

# Frameworks, runtimes and test tools, for experiments and tests.
$(FULL_DEPS): $(REPORT_DEPS) requirements/experiments.txt requirements/test.txt
	$(PIP) -r requirements/experiments.txt -r requirements/test.txt
	@touch $@

report: $(REPORT_DEPS)
	$(PY) build.py report

check: $(REPORT_DEPS)
	$(PY) build.py check

test: $(FULL_DEPS)
	$(PY) -m pytest

experiments: $(FULL_DEPS)
	$(PY) build.py experiments

experiments-quick: $(FULL_DEPS)
	$(PY) build.py experiments --quick

site: $(FULL_DEPS)
	$(PY) build.py site

verify: $(REPORT_DEPS)
	$(PY) build.py verify

release: $(FULL_DEPS)
	$(PY) build.py release

clean:
	rm -rf dist build site .pytest_cache .hypothesis "$${XDG_CACHE_HOME:-$$HOME/.cache}/pt-vs-tf-survey"
	find . -name __pycache__ -type d -not -path './$(VENV)/*' -prune -exec rm -rf {} +

distclean: clean
	rm -rf $(VENV)
