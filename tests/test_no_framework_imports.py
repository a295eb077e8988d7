"""The sans-I/O promise: importing the core, the vendor packages and their models, or the testing
helpers loads no web framework, server, HTTP client or database driver. Each case runs in a fresh
interpreter, so modules other tests imported cannot hide a violation."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

FRAMEWORKS = (
    "flask",
    "werkzeug",
    "django",
    "fastapi",
    "starlette",
    "uvicorn",
    "httpx",
    "redis",
    "psycopg",
    "psycopg2",
)
VENDOR_MODULES = tuple(
    f"kyc_webhooks.{vendor}{suffix}"
    for vendor in ("idenfy", "complycube", "yoti", "identomat")
    for suffix in ("", ".models")
)

CASES: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    # name: (modules to import, modules that must stay unloaded)
    "core": (("kyc_webhooks",), (*FRAMEWORKS, "sqlite3")),
    "vendors-and-models": (VENDOR_MODULES, FRAMEWORKS),
    "testing": (("kyc_webhooks.testing",), FRAMEWORKS),
    "integrations-package": (("kyc_webhooks.integrations",), FRAMEWORKS),
    "asgi-adapter": (
        ("kyc_webhooks.integrations.asgi",),
        tuple(m for m in FRAMEWORKS if m not in ("redis", "psycopg", "psycopg2")),
    ),
    "flask-adapter": (("kyc_webhooks.integrations.flask",), ("django", "fastapi", "starlette")),
    "fastapi-adapter": (("kyc_webhooks.integrations.fastapi",), ("flask", "django", "uvicorn")),
    "django-adapter": (("kyc_webhooks.integrations.django",), ("flask", "fastapi", "starlette")),
}

PROBE = """
import importlib, json, sys
for name in sys.argv[1].split(","):
    importlib.import_module(name)
print(json.dumps(sorted(sys.modules)))
"""


def _loaded_after(modules: tuple[str, ...]) -> set[str]:
    completed = subprocess.run(
        [sys.executable, "-c", PROBE, ",".join(modules)],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return set(json.loads(completed.stdout))


@pytest.mark.parametrize(("imports", "forbidden"), CASES.values(), ids=CASES.keys())
def test_imports_stay_free_of_frameworks(
    imports: tuple[str, ...], forbidden: tuple[str, ...]
) -> None:
    loaded = _loaded_after(imports)
    assert set(imports) <= loaded
    leaked = sorted(
        name for name in loaded for root in forbidden if name == root or name.startswith(root + ".")
    )
    assert leaked == []


def test_the_probe_would_see_a_framework() -> None:
    # Guards the test itself: the same probe does report a framework that was imported.
    assert "starlette" in _loaded_after(("kyc_webhooks.integrations.fastapi",))
