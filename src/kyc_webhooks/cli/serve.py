"""``kyc-webhooks serve``: a local receiver for every configured vendor, storing every
authenticated delivery in a SQLite inbox (ASGI adapter under uvicorn: the 'server' extra)."""

from __future__ import annotations

import argparse
import contextlib
import os
from pathlib import Path
from typing import Any

from . import _credentials as creds
from ._common import EXIT_OK, LOOPBACK, PROG, CliError, Terminated, epilog, err, signals_raise
from ._http import is_loopback
from ._server import (
    Server,
    ServeReceiver,
    add_log_level_option,
    asgi_app,
    bind,
    log_level,
    logging_to_stderr,
    require_uvicorn,
)
from ._stores import DEFAULT_INBOX, INBOX_VAR, check_integrity, describe, is_postgres, open_store

DEFAULT_PORT = 8000


def add_parser(parser: argparse.ArgumentParser) -> None:
    parser.description = (
        "Run a receiver for every configured vendor (ASGI adapter under uvicorn; needs the "
        "'server' extra). Every authenticated delivery is stored in a SQLite inbox; one log "
        "line per delivery, no personal data."
    )
    tables = "\n".join(
        f"  [{name}]\n"
        + "\n".join(
            f'  {key} = "..."'
            for key in (
                creds.vendor_class(name).credential_param,
                *creds.vendor_class(name).option_envs,
            )
        )
        for name in creds.vendor_names()
    )
    parser.epilog = (
        epilog(
            f"IDENFY_SIGNING_KEY=... COMPLYCUBE_SECRET=... {PROG} serve",
            f"{PROG} serve --config kyc-webhooks.toml --port 9000 --inbox /tmp/inbox.sqlite3",
        )
        + "\n\nconfig file (TOML; every table optional, lists of secrets allowed for rotation):\n"
        + tables
        + '\n  [serve]\n  port = 8000\n  inbox = "kyc-webhooks-inbox.sqlite3"'
    )
    parser.add_argument("--host", help=f"address to listen on (default {LOOPBACK})")
    parser.add_argument(
        "--port", type=int, help=f"port (default {DEFAULT_PORT}; 0 picks a free one)"
    )
    parser.add_argument(
        "--inbox", metavar="PATH", help=f"SQLite inbox (default ${INBOX_VAR} or ./{DEFAULT_INBOX})"
    )
    parser.add_argument(
        "--config", metavar="FILE", help=f"TOML configuration (or ${creds.CONFIG_VAR})"
    )
    add_log_level_option(parser, "info")


def run(args: argparse.Namespace) -> int:
    require_uvicorn()
    settings = creds.vendor_settings(args)
    if not settings:
        raise CliError(
            "no vendor configured: set "
            + ", ".join(creds.vendor_class(n).credential_env for n in creds.vendor_names())
            + " (any of them) or pass --config FILE"
        )
    vendors = [creds.build_vendor(setting) for setting in settings.values()]
    path = creds.config_path(args)
    table: dict[str, Any] = creds.load_toml(path).get("serve", {}) if path else {}
    for key, kind in (("host", str), ("port", int), ("inbox", str)):
        if key in table and (not isinstance(table[key], kind) or isinstance(table[key], bool)):
            raise CliError(f"config file {path}: [serve] {key} must be a {kind.__name__}")
    host: str = args.host or table.get("host") or LOOPBACK
    port: int = args.port if args.port is not None else table.get("port", DEFAULT_PORT)
    if not 0 <= port <= 65535:
        raise CliError(f"port must be between 0 and 65535, got {port}")
    inbox: str = args.inbox or table.get("inbox") or os.environ.get(INBOX_VAR) or DEFAULT_INBOX
    sock = bind(host, port)
    try:
        if not is_postgres(inbox) and Path(inbox).is_file():
            check_integrity(inbox)  # else deliveries went into a corrupt file, others 503
        store = open_store(inbox, "inbox")
    except CliError:
        sock.close()
        raise
    # From here on a SIGTERM (kill, docker stop) stops the server as Ctrl-C does: uvicorn shuts
    # down gracefully, then raises the signal again -- stopping is success, and the store is
    # closed below (review R53: it ended the process, the store left open).
    try:
        with signals_raise(), contextlib.suppress(KeyboardInterrupt, Terminated):
            server = Server(asgi_app(ServeReceiver(*vendors, store=store)), sock, log_level="info")
            err(f"{PROG}: receiving on {server.url}/<vendor> (or {server.url}/ to auto-detect)")
            err(f"{PROG}: vendors {', '.join(settings)}; inbox {describe(inbox)}; Ctrl-C stops")
            if not is_loopback(host):
                err(f"{PROG}: warning: {host} is not a loopback address; others can reach it")
            level, explicit = log_level(args.log_level, "info")
            with logging_to_stderr(level, explicit=explicit, library_info=False):
                server.run()
        err(f"{PROG}: stopped")
    finally:
        with contextlib.suppress(OSError):
            sock.close()
        with contextlib.suppress(Exception):
            store.close()
    return EXIT_OK
