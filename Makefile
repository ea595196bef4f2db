# The course's entry points. On a fresh machine `make demo` and `make test` are all you need:
# both create the virtual environment in .venv on first use.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# nbgrader runs helper programs (alembic) by name, so the venv must come first on PATH.
export PATH := $(abspath $(BIN)):$(PATH)
STAMP := $(VENV)/.installed
NB ?=
CHAPTER ?= 01_fundamentals

.PHONY: setup demo test release lab start check lint timing clean

setup: $(STAMP)

# Re-installs only when pyproject.toml changes; `make setup` is quick once done.
$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || \
		{ echo "Python 3.11 or newer is needed (set PYTHON=...)"; exit 1; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

demo: setup
	$(BIN)/python -m course demo --keep

# The suite's slow parts (mock class, hostile class, one kernel per chapter's answer catalogues)
# run side by side on all cores; tests that share a fixture stay on one worker (tests/conftest.py).
test: setup
	$(BIN)/python -m pytest -n auto --dist loadgroup

release: setup
	$(BIN)/python -m course release

lab: setup
	$(BIN)/jupyter lab

start: setup
	$(BIN)/python -m course start $(CHAPTER)

check: setup
	@test -n "$(NB)" || { echo "usage: make check NB=path/to/your/notebook.ipynb"; exit 2; }
	$(BIN)/python -m course check "$(NB)"

lint: setup
	$(BIN)/ruff check course tests tools source nbgrader_config.py

timing: setup
	$(BIN)/python -m course timing

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache gradebook.db submitted autograded feedback
