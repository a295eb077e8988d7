"""The benchmarks docs/performance.md tells readers to run build their bodies from files of the
repository (review R61: bench_core read ../shared/samples, absent from any clone)."""

from __future__ import annotations

import ast
import importlib.util
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"


@pytest.mark.parametrize("script", sorted(p.name for p in BENCH.glob("*.py")))
def test_no_benchmark_reads_a_file_outside_the_repository(script: str) -> None:
    tree = ast.parse((BENCH / script).read_text(encoding="utf-8"))
    texts = [n.value for n in ast.walk(tree) if isinstance(n, ast.Constant)]
    assert [t for t in texts if isinstance(t, str) and t in ("shared", "../shared")] == []


def test_the_core_benchmark_bodies_build_from_the_repository() -> None:
    spec = importlib.util.spec_from_file_location("bench_core_inputs", BENCH / "bench_core.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    try:
        spec.loader.exec_module(module)
        assert module.SAMPLE.is_relative_to(ROOT)
        # The sizes docs/performance.md reports for these rows.
        assert len(module.identification_body()) == 5241
        assert len(module.large_aml_body()) == 60951
        assert len(module.complycube_body()) == 532
    finally:
        del sys.modules[spec.name]
