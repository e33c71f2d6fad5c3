"""Browser tests: one JupyterLab (on a temporary copy of the course) and one headless Chromium per session.

Chromium is Debian's (``make browser-deps`` installs it); Playwright never downloads a browser here.
If Chromium is missing the tests fail, they are not skipped.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import pytest

import jlab


@pytest.fixture(scope="session")
def lab():
    """A running ``jupyter lab`` on a free loopback port with a token; stopped and removed afterwards."""
    tmp = Path(tempfile.mkdtemp(prefix="infraprep-lab-"))
    server = jlab.start_lab(tmp)
    try:
        yield server
    finally:
        jlab.stop_lab(server)
        log = server.log
        if log.exists():
            jlab.ARTIFACTS.mkdir(parents=True, exist_ok=True)
            shutil.copy(log, jlab.ARTIFACTS / "jupyter-lab.log")
        shutil.rmtree(tmp, ignore_errors=True)


@pytest.fixture(scope="session")
def browser_context():
    if not Path(jlab.CHROMIUM).exists():
        pytest.fail(f"{jlab.CHROMIUM} is missing: run `make browser-deps` (installs Debian's chromium as root)",
                    pytrace=False)
    from playwright.sync_api import sync_playwright

    profile = jlab.new_user_data_dir()
    with sync_playwright() as playwright:
        context = jlab.launch_browser(playwright, profile)
        context.set_default_timeout(30_000)
        try:
            yield context
        finally:
            context.close()
            shutil.rmtree(profile, ignore_errors=True)


@pytest.fixture(scope="session")
def artifacts() -> Path:
    """artifacts/browser/ (git-ignored): screenshots of this run; failure shots of earlier runs removed."""
    jlab.ARTIFACTS.mkdir(parents=True, exist_ok=True)
    for stale in jlab.ARTIFACTS.glob("FAILED-*.png"):
        stale.unlink()
    return jlab.ARTIFACTS


@pytest.fixture
def page(browser_context, lab, artifacts, request):
    """A fresh tab; on failure its last state is saved as artifacts/browser/FAILED-<test>.png.
    Afterwards the kernels it started are shut down, so they do not pile up over the session."""
    tab = browser_context.new_page()
    yield tab
    report = getattr(request.node, "rep_call", None)
    if report is not None and report.failed:
        name = "".join(c if c.isalnum() or c in "-_" else "_" for c in request.node.name)
        try:
            tab.screenshot(path=str(artifacts / f"FAILED-{name}.png"))
        except Exception:  # noqa: BLE001 - the screenshot is a diagnostic, never the failure itself
            pass
    tab.close()
    lab.shutdown_kernels()


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    report = yield
    setattr(item, f"rep_{report.when}", report)
    return report
