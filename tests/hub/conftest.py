"""The hub end-to-end test runs from its own target, `make test-hub` (it sets INFRAPREP_HUB_E2E=1):
it creates Unix users and a JupyterHub, so a plain `pytest tests` run does not start it by accident."""

import os

import pytest


def pytest_configure(config):
    config.addinivalue_line("markers", "hub: starts a real JupyterHub with real Unix users (make test-hub)")


def pytest_collection_modifyitems(config, items):
    if os.environ.get("INFRAPREP_HUB_E2E") == "1":
        return
    skip = pytest.mark.skip(reason="the JupyterHub end-to-end test runs under `make test-hub` (INFRAPREP_HUB_E2E=1)")
    for item in items:
        if "hub" in item.keywords:
            item.add_marker(skip)
