"""The README's quick start runs exactly as written."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

README = Path(__file__).resolve().parent.parent / "README.md"


def _section_code(title: str) -> str:
    text = README.read_text(encoding="utf-8")
    section = text.split(f"## {title}\n", 1)[1].split("\n## ", 1)[0]
    match = re.search(r"```python\n(.*?)```", section, re.S)
    assert match is not None, f"no python block under {title!r}"
    return match.group(1)


def test_quick_start_runs_as_written() -> None:
    code = _section_code("Quick start")
    assert len(code.strip().splitlines()) <= 24
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[-1] == "200"
    assert any(line.startswith("result ") and line.endswith(" DECLINED") for line in lines)
    assert any(line.startswith("declined idenfy ") for line in lines)
    assert "got idenfy IDENTIFICATION_MANUAL_FINISHED" in lines


def test_readme_names_the_two_commands() -> None:
    text = README.read_text(encoding="utf-8")
    assert 'pip install -e ".[server]" && .venv/bin/kyc-webhooks demo' in text
    assert 'pip install -e ".[dev]" && .venv/bin/python -m pytest -q' in text


def test_subpackages_are_reachable_as_attributes() -> None:
    code = (
        "import kyc_webhooks as kw\n"
        "print(kw.identomat.SessionChangeEvent.__name__, kw.idenfy.IdentificationEvent.__name__)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert result.stdout.split() == ["SessionChangeEvent", "IdentificationEvent"]
