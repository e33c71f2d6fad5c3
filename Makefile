# AI Infrastructure Interview Prep: one command to learn, one command to test.
#   make lab    set everything up and open the course in JupyterLab
#   make test   set everything up and run the whole test suite (what CI runs)

SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(CURDIR)/$(VENV)/bin
STAMP := $(VENV)/.installed
PORT ?= 8888
PYTEST_WORKERS ?= auto
export PATH := $(BIN):$(PATH)
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: help setup lab instructor-mode student-mode test test-unit test-notebooks release landing bench clean

help:
	@echo "make lab              set up .venv and open the course in JupyterLab"
	@echo "make test             set up .venv and run every test (pytest, nbval, nbgrader round trip)"
	@echo "make release          regenerate release/ from source/ with nbgrader"
	@echo "make instructor-mode  turn on nbgrader's formgrader and assignment-creation tools"
	@echo "make student-mode     back to the learner's view (the default)"
	@echo "make bench            time every notebook (benchmarks/)"

$(BIN)/python:
	@if ! $(PYTHON) -m venv $(VENV) 2>/dev/null; then \
	  rm -rf $(VENV); \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "python3 -m venv is missing: installing Debian's python3-venv"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >/dev/null && $(PYTHON) -m venv $(VENV); \
	  else \
	    echo "error: '$(PYTHON) -m venv' failed. On Debian/Ubuntu run: sudo apt-get install python3-venv" >&2; exit 1; \
	  fi; \
	fi

$(STAMP): requirements.txt pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -r requirements.txt
	@$(MAKE) --no-print-directory student-mode
	@mkdir -p $(VENV)/share/jupyter/lab/settings
	@cp deploy/jupyterlab-overrides.json $(VENV)/share/jupyter/lab/settings/overrides.json
	@touch $(STAMP)

setup: $(STAMP)

lab: setup
	$(BIN)/jupyter lab --ServerApp.root_dir="$(CURDIR)" --port=$(PORT) notebooks/00-start-here.ipynb

# Learners see the assignment list and the Validate button; instructor tools are off until asked for.
student-mode: | $(BIN)/python
	@$(BIN)/jupyter labextension disable --level=sys_prefix @jupyter/nbgrader:formgrader @jupyter/nbgrader:create-assignment @jupyter/nbgrader:course-list >/dev/null 2>&1 || true
	@$(BIN)/jupyter labextension enable --level=sys_prefix @jupyter/nbgrader:assignment-list @jupyter/nbgrader:validate-assignment @jupyter/nbgrader:menu >/dev/null 2>&1 || true
	@$(BIN)/jupyter server extension disable --sys-prefix nbgrader.server_extensions.formgrader >/dev/null 2>&1 || true
	@$(BIN)/jupyter server extension disable --sys-prefix nbgrader.server_extensions.course_list >/dev/null 2>&1 || true
	@echo "nbgrader: student view (assignment list, validate)"

instructor-mode: setup
	@$(BIN)/jupyter labextension enable --level=sys_prefix @jupyter/nbgrader:formgrader @jupyter/nbgrader:create-assignment @jupyter/nbgrader:course-list >/dev/null
	@$(BIN)/jupyter server extension enable --sys-prefix nbgrader.server_extensions.formgrader >/dev/null
	@$(BIN)/jupyter server extension enable --sys-prefix nbgrader.server_extensions.course_list >/dev/null
	@echo "nbgrader: instructor tools on (formgrader, create assignment, course list)"

test: setup
	$(MAKE) --no-print-directory test-unit test-notebooks

test-unit: setup
	$(BIN)/python -m pytest -n $(PYTEST_WORKERS) tests

test-notebooks: setup
	$(BIN)/python -m pytest -n $(PYTEST_WORKERS) --dist loadscope --nbval-lax -p no:cacheprovider notebooks source

release: setup
	@for dir in source/*/; do a=$$(basename $$dir); \
	  $(BIN)/nbgrader generate_assignment $$a --force --db sqlite:///$$(mktemp -d)/gradebook.db || exit 1; done

landing: setup
	$(BIN)/python scripts/make_landing.py

bench: setup
	$(BIN)/python benchmarks/notebooks.py

clean:
	rm -rf $(VENV) .pytest_cache build *.egg-info
