# Two commands on a fresh machine: `make lab` (the workbook) and `make test` (the suite).
# Every target sets up what it needs first, and skips what is already done.

PYTHON ?= python3
PORT ?= 8000
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed
MANAGE := $(BIN)/python tutorial_project/manage.py
# Jupyter refuses to run as root (containers, CI) unless told it may.
ALLOW_ROOT := $(if $(filter 0,$(shell id -u)),--allow-root)
# A workshop without a network: `make wheelhouse` (online) fills WHEELHOUSE, then
# `make lab OFFLINE=1` (or install/test) installs from it alone, never from an index.
WHEELHOUSE ?= wheelhouse
PIP_SOURCE := $(if $(OFFLINE),--no-index --find-links $(WHEELHOUSE))
BOOK_INSTALLED := $(VENV)/.book-installed

.PHONY: lab test lint serve bench stress install migrate exercises instructors check doctor lock clean

# The repository root is the lab's root, so notebooks/, exercises/, solutions/ and
# the README all open from the file browser; the lab opens on the first notebook.
# LAB_ARGS passes more options, e.g. make lab LAB_ARGS="--no-browser --port=8899".
lab: migrate
	$(BIN)/jupyter lab --ServerApp.root_dir="$(CURDIR)" --ServerApp.ip=127.0.0.1 $(ALLOW_ROOT) \
	  $(LAB_ARGS) notebooks/00-tour.ipynb

test: migrate lint
	$(BIN)/pytest

# ruff's lint and format check, with pyproject.toml's rules, over the code, the tests and
# the notebooks. `.venv/bin/ruff format .` formats what the check finds.
lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

serve: migrate
	$(MANAGE) runserver 127.0.0.1:$(PORT)

# Fan-out benchmark: make bench (S = 10..1000), make bench QUICK=1 (under a minute).
bench: install
	$(BIN)/python -m notebook_runtime.fanout $(if $(QUICK),--quick --json fanout-results.json)

# Stress benchmark of one deployed server: connections held, a soak, a write flood, a slow
# reader and each limit's refusal; make stress QUICK=1 (under a minute). Fails if a check does.
stress: install
	$(BIN)/python -m notebook_runtime.stress $(if $(QUICK),--quick) --json stress-results.json

# Regenerate exercises/ from solutions/ (the single source) and store fresh outputs.
exercises: install
	$(BIN)/python -m notebook_runtime.exercise_notebooks generate

# Rebuild instructors/schedule.md and practice-answers.md from the notebooks (after
# changing a notebook's minutes or questions, or re-running it), and
# exercise-mistakes.md from the checkers' tests (after changing a checker or a mutant).
instructors: migrate
	$(BIN)/python -m notebook_runtime.lesson_plan write
	WRITE_MISTAKES=1 $(BIN)/pytest -q tests/test_exercise_checkers.py

# Run your exercise notebook and report its checks: make check NB=exercises/04-hashtags.ipynb
check: migrate
	@test -n "$(NB)" || { echo "Usage: make check NB=exercises/04-hashtags.ipynb"; exit 2; }
	$(BIN)/python -m notebook_runtime.exercise_notebooks check $(NB)

# Is this machine ready? A checklist with a fix for each problem, in a few seconds;
# exits non-zero if a notebook would fail. Needs no migrated database. (-W: the
# package imports its doctor, which runpy warns about when running it as a module.)
doctor: install
	$(BIN)/python -W "ignore::RuntimeWarning:runpy" -m notebook_runtime.doctor --port $(PORT)

migrate: install
	$(MANAGE) migrate --noinput

install: $(INSTALLED)

$(BIN)/python:
	@$(PYTHON) -c 'import sys; sys.exit(not (3, 11) <= sys.version_info[:2] <= (3, 13))' || { \
	  echo "This workbook needs Python 3.11 to 3.13; '$(PYTHON)' is $$($(PYTHON) --version 2>&1)."; \
	  echo "Run: make PYTHON=python3.12 lab   (any 3.11-3.13 interpreter)"; exit 1; }
	$(PYTHON) -m venv $(VENV)

# Reinstall only when the pins or the package definition change.
$(INSTALLED): requirements.txt pyproject.toml | $(BIN)/python
	@if [ -n "$(OFFLINE)" ] && [ ! -d "$(WHEELHOUSE)" ]; then echo "OFFLINE=1 installs from $(WHEELHOUSE)/, which is not there:"; \
	  echo "make wheelhouse where there is a network, or pass WHEELHOUSE=/path/to/wheelhouse"; exit 1; fi
	$(BIN)/python -m pip install --quiet --disable-pip-version-check $(PIP_SOURCE) -r requirements.txt
	$(BIN)/python -m pip install --quiet --disable-pip-version-check $(PIP_SOURCE) --no-deps --no-build-isolation -e .
	touch $@

# Re-pin after editing requirements.in (needs the registry).
lock: install
	$(BIN)/python -m pip install --quiet pip-tools==7.6.2
	$(BIN)/pip-compile --quiet --strip-extras --allow-unsafe --no-emit-index-url \
	  --no-emit-find-links --output-file requirements.txt requirements.in

.PHONY: book wheelhouse

# The readable book: notebooks, exercises, instructor notes and solutions, with the
# outputs stored in them (nothing is run), as a searchable static site in
# book/_build/html. Any warning, such as a link or image that does not resolve,
# fails the build; --all rereads every page, so an unchanged page's warning counts too.
book: $(BOOK_INSTALLED)
	$(BIN)/jupyter-book build . --config book/_config.yml --toc book/_toc.yml --path-output book \
	  --all --warningiserror --nitpick --keep-going --quiet

# The book's own tools, pinned against the workbook's pins so they change none of them;
# only `make book` installs them. Re-pin: pip-compile requirements-book.in (see there).
$(BOOK_INSTALLED): requirements-book.txt $(INSTALLED)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -c requirements.txt -r requirements-book.txt
	touch $@

# Every wheel the pins need, for this kind of machine (system, processor, Python), in
# one folder to copy to USB sticks for a workshop without a network; its README.md
# (book/offline-workshop.md) says the rest. pip wheel copies published wheels and builds
# one from any package published only as source, so the offline install builds nothing.
wheelhouse: | $(BIN)/python
	$(BIN)/python -m pip wheel --quiet --disable-pip-version-check --wheel-dir $(WHEELHOUSE) -r requirements.txt
	cp book/offline-workshop.md $(WHEELHOUSE)/README.md

clean:
	rm -rf $(VENV) tutorial_project/db.sqlite3 tutorial_project/db.sqlite3-wal tutorial_project/db.sqlite3-shm
