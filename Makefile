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
UNIT_WORKERS ?= $(shell echo $$(( $$(nproc 2>/dev/null || echo 1) + 1 )))
UV_VERSION := 0.13.9
CHROMIUM ?= /usr/bin/chromium
LAB_SETTINGS := $(VENV)/share/jupyter/lab/settings/overrides.json
export PATH := $(BIN):$(PATH)
export PIP_DISABLE_PIP_VERSION_CHECK := 1

# $(call deps,PACKAGE:PROBE ...,WHAT FOR[,required]): the Debian packages whose probe fails are installed
# with one apt-get run as root; otherwise a missing one is an error under CI (or when required), else a
# warning naming the command to run. A probe is a path (executable), a command, or initdb/ensurepip.
define deps
@missing=""; for pair in $(1); do pkg=$${pair%%:*}; probe=$${pair#*:}; \
  case $$probe in \
    /*) [ -x "$$probe" ] ;; \
    initdb) ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || command -v initdb >/dev/null ;; \
    ensurepip) [ -x /usr/bin/python3 ] && /usr/bin/python3 -c 'import ensurepip, venv' 2>/dev/null ;; \
    *) command -v "$$probe" >/dev/null ;; \
  esac || missing="$$missing $$pkg"; done; \
if [ -z "$$missing" ]; then :; \
elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
  echo "installing Debian's$$missing $(2)"; \
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null \
    || { echo "error: could not install$$missing with apt-get ($(2))" >&2; exit 1; }; \
elif [ "$$CI" = true ] || [ "$(3)" = required ]; then \
  echo "error:$$missing missing ($(2)) and not installable here (not root or no apt-get): sudo apt-get install$$missing" >&2; exit 1; \
else \
  echo "warning:$$missing missing ($(2)): sudo apt-get install$$missing" >&2; \
fi
endef

.PHONY: help setup lab instructor-mode student-mode test test-core lint test-unit test-notebooks test-browser browser-deps sandbox-deps system-deps system-packages screenshots postgres-deps release landing bench bench-autograde bench-decode bench-watch cohort-demo clean

help:
	@echo "For a learner"
	@echo "  make lab              set up .venv and open the course in JupyterLab"
	@echo "  make student-mode     nbgrader's learner view (the default): assignment list and Validate"
	@echo "For an instructor"
	@echo "  make instructor-mode  turn on nbgrader's formgrader and assignment-creation tools"
	@echo "  make release          regenerate release/ from source/ with nbgrader"
	@echo "  make landing          regenerate notebooks/00-start-here.ipynb from infraprep/data/lessons.csv"
	@echo "  make cohort-demo      play a small cohort end to end (roster, release, submit, collect, grade, report)"
	@echo "  make hub ROSTER=roster.csv COHORT=NAME   set up and start a JupyterHub for a cohort (as root; deploy/)"
	@echo "  make hub-status       what the hub and each cohort's watcher are doing; make hub-stop stops them"
	@echo "Tests"
	@echo "  make test             set up .venv and run every suite below (what CI runs)"
	@echo "  make lint             ruff: unused and undefined names, imports out of place"
	@echo "  make test-unit        pytest over tests/ and the package's doctests (not browser, not hub)"
	@echo "  make test-notebooks   every lecture and source notebook runs top to bottom (nbval)"
	@echo "  make test-browser     the learner's experience in JupyterLab, driven in Debian's chromium"
	@echo "  make test-hub         the cohort cycle on a real JupyterHub with real Unix users (as root)"
	@echo "  make screenshots      run the browser tests and copy their screenshots into docs/"
	@echo "Benchmarks (benchmarks/)"
	@echo "  make bench            time every notebook"
	@echo "  make bench-autograde  stock nbgrader autograde against infraprep autograde on a synthetic cohort"
	@echo "  make bench-decode     how decode step time grows with the batch on this machine (lesson 8)"
	@echo "  make bench-watch      submit-to-feedback latency of grading on submit, on a real hub (as root)"
	@echo "Set-up pieces (make test runs them; as root they apt-get what is missing)"
	@echo "  make system-deps      chromium, bubblewrap, PostgreSQL, Node.js for the tests"
	@echo "  make clean            remove .venv and build leftovers"

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

# uv installs the pinned requirements several times faster than pip (pip is the fallback)
$(STAMP): requirements.txt pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet uv==$(UV_VERSION) && $(BIN)/uv pip install --quiet --python $(BIN)/python -r requirements.txt \
	  || $(BIN)/python -m pip install --quiet -r requirements.txt
	@$(MAKE) --no-print-directory student-mode
	@mkdir -p $(VENV)/share/jupyter/lab/settings
	@cp deploy/jupyterlab-overrides.json $(VENV)/share/jupyter/lab/settings/overrides.json
	@touch $(STAMP)

# JupyterLab settings of the course (no news prompt, no update check), kept current with deploy/.
$(LAB_SETTINGS): deploy/jupyterlab-overrides.json | $(STAMP)
	@mkdir -p $(dir $@)
	@cp $< $@

setup: $(STAMP) $(LAB_SETTINGS)

lab: setup
	$(BIN)/jupyter lab --ServerApp.root_dir="$(CURDIR)" --port=$(PORT) $$([ "$$(id -u)" = 0 ] && echo --allow-root) notebooks/00-start-here.ipynb

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

# The hub and browser suites mostly wait (installs, servers starting, a browser rendering), so they run
# beside the CPU-bound unit and notebook suites.
test: setup system-deps hub-deps
	$(MAKE) --no-print-directory -j3 --output-sync=target test-core test-hub test-browser

test-core: setup
	$(MAKE) --no-print-directory lint test-unit test-notebooks

# Mistakes a reader trips on (unused or undefined names, imports out of place); configured in pyproject.toml.
lint: setup
	$(BIN)/ruff check infraprep tests benchmarks deploy scripts

# One more pytest worker than cores: the grading tests spend much of their time waiting on the
# subprocesses they start; work stealing keeps a worker from idling at the end while another has a queue.
test-unit: setup
	$(BIN)/python -m pytest -n $(UNIT_WORKERS) --dist worksteal --durations=30 --doctest-modules tests infraprep --ignore=tests/browser --ignore=tests/hub

test-notebooks: setup
	INFRAPREP_HOME=$$(mktemp -d) $(BIN)/python -m pytest -n $(PYTEST_WORKERS) --dist loadscope --nbval-lax -p no:cacheprovider notebooks source

# The learner's experience in a real browser: JupyterLab driven by Playwright in Debian's Chromium
# (tests/browser/). One JupyterLab and one browser for the whole run, so not under pytest-xdist.
test-browser: setup browser-deps
	INFRAPREP_CHROMIUM=$(CHROMIUM) $(BIN)/python -m pytest -p no:cacheprovider tests/browser

# Playwright may not download its own browsers here: the tests use Debian's chromium package.
browser-deps:
	$(call deps,chromium:$(CHROMIUM),for the browser tests)

# bubblewrap: student kernels run sandboxed while they are graded (infraprep/grading/sandbox.py).
sandbox-deps:
	$(call deps,bubblewrap:bwrap,to sandbox student code while it is graded: without it grading runs it UNSANDBOXED)

# Every Debian package the tests need, installed with one apt-get run (then each *-deps target finds its own).
SYSTEM_PACKAGES := chromium:$(CHROMIUM) bubblewrap:bwrap postgresql:initdb python3-venv:ensurepip nodejs:node npm:npm passwd:useradd
system-packages:
	$(call deps,$(SYSTEM_PACKAGES),for the tests)

system-deps: system-packages
	@$(MAKE) --no-print-directory browser-deps sandbox-deps postgres-deps

# Refresh the README's screenshots from the latest browser-test run.
screenshots: test-browser
	cp artifacts/browser/lesson-01.png docs/
	cp artifacts/browser/self-check-01.png docs/self-check.png
	cp artifacts/browser/validate-01.png docs/validate.png
	cp artifacts/browser/assignments-01.png docs/assignments.png

# PostgreSQL, for the cohort round trip against a throwaway server (tests/test_grading_cohort.py).
postgres-deps:
	$(call deps,postgresql:initdb,for the PostgreSQL gradebook tests,required)

include deploy/hub.mk

release: setup
	@for dir in source/*/; do a=$$(basename $$dir); \
	  $(BIN)/nbgrader generate_assignment $$a --force --db sqlite:///$$(mktemp -d)/gradebook.db || exit 1; done

landing: setup
	$(BIN)/python scripts/make_landing.py

bench: setup
	$(BIN)/python benchmarks/notebooks.py

bench-autograde: setup sandbox-deps
	$(BIN)/python benchmarks/autograde.py

bench-decode: setup
	$(BIN)/python benchmarks/decode_curve.py

cohort-demo: setup
	$(BIN)/python -m infraprep.grading.demo

clean:
	rm -rf $(VENV) .pytest_cache build *.egg-info
