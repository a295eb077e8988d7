"""Run mypy --strict, with the project's configuration, on a snippet written to a file: what the
typing tests use to check what users' code sees."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def run_mypy(source: Path) -> tuple[str, str, int]:
    """``(stdout, stderr, exit status)`` of ``mypy --strict source``; skips without mypy."""
    api = pytest.importorskip("mypy.api")
    out, err, status = api.run(
        [
            "--strict",
            "--no-error-summary",
            "--config-file",
            str(ROOT / "pyproject.toml"),
            "--cache-dir",
            str(ROOT / ".mypy_cache"),
            str(source),
        ]
    )
    return str(out), str(err), int(status)
