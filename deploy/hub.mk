# JupyterHub for a cohort (deploy/, infraprep/hub.py). Included by the Makefile:
#   make hub ROSTER=roster.csv COHORT=spring [HUB_DB=postgresql://...] [HUB_PORT=8000]   (as root)
#   make hub-stop                 stop the hub and every user's server
#   make test-hub                 the end-to-end test on a real hub with real Unix users (as root)
#   make bench-watch              submit -> feedback latency of grading on submit, on a real hub (as root)
HUB_PREFIX ?= /opt/infraprep-hub
HUB_PORT ?= 8000
HUB_DB ?=
ROSTER ?= roster.csv
COHORT ?=

.PHONY: hub hub-deps hub-stop hub-status test-hub bench-watch

# Debian's python3-venv (the hub's environment is made from /usr/bin/python3, readable by every user)
# and npm (configurable-http-proxy comes from the npm registry).
hub-deps:
	$(call deps,python3-venv:ensurepip npm:npm nodejs:node passwd:useradd,for the hub)

hub: setup hub-deps
	@[ -n "$(COHORT)" ] || { echo "usage: make hub ROSTER=roster.csv COHORT=NAME [HUB_DB=URL] [HUB_PORT=8000]" >&2; exit 2; }
	$(BIN)/infraprep hub setup --roster "$(ROSTER)" --cohort "$(COHORT)" --prefix "$(HUB_PREFIX)" \
	  --port $(HUB_PORT) $(if $(HUB_DB),--db "$(HUB_DB)") --start

hub-stop: setup
	$(BIN)/infraprep hub stop --prefix "$(HUB_PREFIX)"

hub-status: setup
	$(BIN)/infraprep hub status --prefix "$(HUB_PREFIX)"

# A real hub on a loopback port, real Unix users (instructor, hubstudent1..3), the whole cohort cycle.
# Its own prefix (/opt/infraprep-hub-test), so it never touches a hub set up with `make hub`.
# Not root: the test says so loudly and is skipped, or fails when CI is set.
test-hub: setup hub-deps
	INFRAPREP_HUB_E2E=1 $(BIN)/python -m pytest -p no:cacheprovider tests/hub

# Grading on submit on a real hub: 10 submissions in turn, submit -> fetched feedback (median, worst).
bench-watch: setup hub-deps
	$(BIN)/python benchmarks/watch_latency.py
