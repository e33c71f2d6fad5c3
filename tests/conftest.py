"""Shared test set-up: nbgrader and Jupyter find the venv's tools, and learner state stays in a temp folder."""

import os
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

sys.path.insert(0, str(Path(__file__).parent))
os.environ["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"


def pytest_configure(config):
    # Widgets that save progress must never touch the real ~/.infraprep during tests.
    if "INFRAPREP_HOME" not in os.environ:
        import tempfile

        os.environ["INFRAPREP_HOME"] = tempfile.mkdtemp(prefix="infraprep-home-")
