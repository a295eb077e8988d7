from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_idenfy_example_script_runs_as_documented() -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "idenfy_example.py")],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "HTTP 200" in result.stdout
    assert "HTTP 401" in result.stdout
    assert result.stdout.rstrip().endswith("OK")
    # The personal data in the sample never reaches the output (repr is redacted).
    assert "Jūratė" not in result.stdout + result.stderr
    assert "example-signing-key" not in result.stdout + result.stderr
