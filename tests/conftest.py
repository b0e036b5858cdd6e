"""Shared fixtures: the real CLI as a subprocess, and the samples folder."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SAMPLES = REPO / "samples"

CliResult = tuple[int, str, str]


def _run_cli(args: list[str], stdin: bytes | str | None = None, timeout: float = 120) -> CliResult:
    """Run ``python -m xodiag.cli *args`` from the repository root; (returncode, stdout, stderr)."""
    if isinstance(stdin, str):
        stdin = stdin.encode("utf-8")
    env = dict(os.environ, PYTHONIOENCODING="utf-8")
    proc = subprocess.run(
        [sys.executable, "-m", "xodiag.cli", *map(str, args)],
        cwd=REPO,
        input=stdin if stdin is not None else b"",
        capture_output=True,
        timeout=timeout,
        env=env,
    )
    return proc.returncode, proc.stdout.decode("utf-8"), proc.stderr.decode("utf-8")


@pytest.fixture(scope="session")
def run_cli() -> Callable[..., CliResult]:
    return _run_cli


@pytest.fixture(scope="session")
def samples() -> Path:
    assert SAMPLES.is_dir(), f"no samples folder at {SAMPLES}"
    return SAMPLES
