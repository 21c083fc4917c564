"""Shared fixtures: the repository's example data and the `automl` binary built by cargo."""

import os
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
DATA = REPO / "examples" / "data"


@pytest.fixture(scope="session")
def data_dir() -> Path:
    return DATA


@pytest.fixture(scope="session")
def automl_bin() -> str:
    """The CLI: $AUTOML_BIN (what .ci/run sets), else `automl` on PATH, else cargo builds it."""
    path = os.environ.get("AUTOML_BIN") or shutil.which("automl")
    if path:
        return path
    out = subprocess.run(
        ["cargo", "build", "--quiet", "--bin", "automl", "--message-format=json"],
        cwd=REPO,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    import json

    for line in out.splitlines():
        msg = json.loads(line)
        if msg.get("reason") == "compiler-artifact" and msg.get("executable"):
            if msg["target"]["name"] == "automl":
                return msg["executable"]
    pytest.fail("cargo did not report the automl binary; set AUTOML_BIN")
