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
JOBS ?=
LAB_ARGS ?=
CHAPTERS ?=
HUB_DEMO_ACCOUNTS ?= 0

.PHONY: setup setup-grader setup-hub demo test release lab start check lint timing autograde hub hub-test hub-bench clean

setup: $(STAMP) setup-grader

# Contained grading (course/grading/sandbox.py) needs bubblewrap on Linux. As root with apt it is
# installed here; elsewhere grading still works and says loudly which guarantees are lost.
setup-grader:
	@if command -v bwrap >/dev/null 2>&1; then :; \
	elif [ "$$(uname)" = Linux ] && [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
		echo "Installing bubblewrap for contained grading"; \
		apt-get install -y -q bubblewrap >/dev/null 2>&1 || \
			{ apt-get update -q >/dev/null && apt-get install -y -q bubblewrap >/dev/null; }; \
	else \
		echo "NOTE: bubblewrap (bwrap) is not installed: grading will run without file and network"; \
		echo "      containment and say so. Install it with your package manager (e.g. apt-get install bubblewrap)."; \
	fi

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

# Every chapter recorded in the gradebook; only CHAPTERS="01_fundamentals ..." released to the exchange
# (Formgrader releases the others). As root JupyterLab needs --allow-root: added, and said.
lab: setup
	$(BIN)/python -m course prepare $(if $(CHAPTERS),--chapters $(CHAPTERS))
	@if [ "$$(id -u)" = 0 ]; then echo "NOTE: running JupyterLab as root (--allow-root): fine on a single-user machine;"; \
		echo "      for a class use JupyterHub (make hub), where every student is a Unix account."; fi
	$(BIN)/jupyter lab $(if $(filter 0,$(shell id -u)),--allow-root) $(LAB_ARGS)

autograde: setup
	$(BIN)/python -m course autograde $(CHAPTER) $(if $(JOBS),--jobs $(JOBS))

start: setup
	$(BIN)/python -m course start $(CHAPTER)

check: setup
	@test -n "$(NB)" || { echo "usage: make check NB=path/to/your/notebook.ipynb"; exit 2; }
	$(BIN)/python -m course check "$(NB)"

# A class on JupyterHub (deploy/jupyterhub/): run as root on the machine that hosts the class.
# HUB_DEMO_ACCOUNTS=N creates the accounts instructor, student1..N (passwords in /srv/ml-recsys/hub).
setup-hub: setup
	$(BIN)/python -m pip install --quiet -e '.[dev,hub]'
hub: setup-hub
	deploy/jupyterhub/setup.sh --demo-accounts $(HUB_DEMO_ACCOUNTS) $(if $(CHAPTERS),--chapters "$(CHAPTERS)")
	cd /srv/ml-recsys/hub && set -a && . ./hub.env && set +a && \
		exec /srv/ml-recsys/venv/bin/jupyterhub -f $(abspath deploy/jupyterhub/jupyterhub_config.py)

# The whole loop in headless chromium against a real hub with real accounts (minutes; not in make test).
hub-test: setup-hub
	$(BIN)/python deploy/jupyterhub/hub_test.py

# 20 students fetch and submit within a minute while the instructor autogrades (a benchmark).
hub-bench: setup-hub
	$(BIN)/python deploy/jupyterhub/load_bench.py

lint: setup
	$(BIN)/ruff check course tests tools source deploy nbgrader_config.py

timing: setup
	$(BIN)/python -m course timing

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache gradebook.db submitted autograded feedback exchange grades*.csv stats_*.png
