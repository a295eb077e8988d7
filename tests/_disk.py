"""A small file system of a test's own, to fill up: a tmpfs mounted under the test's directory."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest


@contextlib.contextmanager
def small_tmpfs(parent: Path, size: str = "4M") -> Iterator[Path]:
    """A tmpfs of ``size`` mounted at ``parent / "disk"``, unmounted on exit whatever happened.
    Skips the test, saying why, where mounting is not permitted (not root, no mount(8), no
    CAP_SYS_ADMIN)."""
    mount = shutil.which("mount")
    if os.name != "posix" or os.geteuid() != 0 or mount is None:
        pytest.skip("mounting a tmpfs needs root (CAP_SYS_ADMIN) and mount(8)")
    point = parent / "disk"
    point.mkdir()
    done = subprocess.run(
        [mount, "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(point)],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        pytest.skip(f"mounting a tmpfs is not permitted here: {done.stderr.strip()}")
    try:
        yield point
    finally:
        if subprocess.run(["umount", str(point)], check=False).returncode != 0:
            subprocess.run(["umount", "-l", str(point)], check=False)
