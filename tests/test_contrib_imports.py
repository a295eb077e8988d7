"""The queue integrations load their framework only when used: importing the core or any
``kyc_webhooks.contrib`` module (without calling ``register``) loads no queue library, broker
client or database driver. Each case runs in a fresh interpreter (as test_no_framework_imports)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

QUEUES = (
    *("celery", "kombu", "amqp", "dramatiq", "pika", "procrastinate"),
    *("redis", "psycopg", "psycopg_pool"),
)
CASES = {
    "core": ("kyc_webhooks",),
    "contrib-package": ("kyc_webhooks.contrib",),
    "celery-module": ("kyc_webhooks.contrib.celery",),
    "dramatiq-module": ("kyc_webhooks.contrib.dramatiq",),
    "procrastinate-module": ("kyc_webhooks.contrib.procrastinate",),
}
PROBE = """
import importlib, json, sys
for name in sys.argv[1].split(","):
    importlib.import_module(name)
print(json.dumps(sorted(sys.modules)))
"""


def loaded_after(modules: tuple[str, ...]) -> set[str]:
    completed = subprocess.run(
        [sys.executable, "-c", PROBE, ",".join(modules)],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return set(json.loads(completed.stdout))


@pytest.mark.parametrize("imports", CASES.values(), ids=CASES.keys())
def test_importing_loads_no_queue_library(imports: tuple[str, ...]) -> None:
    loaded = loaded_after(imports)
    assert set(imports) <= loaded
    leaked = sorted(
        name for name in loaded for root in QUEUES if name == root or name.startswith(root + ".")
    )
    assert leaked == []
