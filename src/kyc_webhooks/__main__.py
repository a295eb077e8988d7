"""``python -m kyc_webhooks``: the ``kyc-webhooks`` command line (see :mod:`kyc_webhooks.cli`)."""

from __future__ import annotations

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
