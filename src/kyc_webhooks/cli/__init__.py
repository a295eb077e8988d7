"""The ``kyc-webhooks`` command line (also ``python -m kyc_webhooks``), built on the public API.

:data:`COMMANDS` maps each command to its module and one-line summary; a command's module (its
parser next to its ``run()``) is imported only when that command runs, so that ``sign``,
``verify`` and ``inbox`` need no optional extra. Run ``kyc-webhooks <command> --help`` for each
one's options and examples.

Credentials come from the environment (each vendor class names its variable: ``IDENFY_SIGNING_KEY``,
``COMPLYCUBE_SECRET``, ``YOTI_AUTH_TOKEN`` + ``YOTI_AUTH_TYPE``, ``IDENTOMAT_API_KEY``), from a TOML
file (``--config`` or ``KYC_WEBHOOKS_CONFIG``), or, for one vendor, from ``--secret-env``,
``--secret-file`` or ``--secret``. No secret, signature or payload value is ever printed, except
where it is the requested output (``sign`` prints the headers it computed; ``inbox show --body``
prints the stored body).

Exit codes: 0 success; 1 a check failed (not authentic, a rejected or failed delivery, an
unexpected demo outcome, a confirmation declined); 2 usage or configuration error; 3 network or
store unavailable; 4 an optional dependency is missing; 130 interrupted; 143 terminated.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import re
import sys
from collections.abc import Sequence
from typing import NamedTuple, NoReturn

import kyc_webhooks as kw

from ._common import (
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_MISSING_DEPENDENCY,
    EXIT_OK,
    EXIT_TERMINATED,
    EXIT_UNAVAILABLE,
    EXIT_USAGE,
    PROG,
    CliError,
    Formatter,
    Terminated,
    err,
    stream_gone,
)

__all__ = [
    "COMMANDS",
    "EXIT_FAILED",
    "EXIT_INTERRUPTED",
    "EXIT_MISSING_DEPENDENCY",
    "EXIT_OK",
    "EXIT_TERMINATED",
    "EXIT_UNAVAILABLE",
    "EXIT_USAGE",
    "build_parser",
    "main",
]


class Command(NamedTuple):
    module: str
    summary: str


#: name -> (module, summary). A command module defines ``add_parser(parser)`` (its options, on the
#: sub-parser made here) and ``run(args) -> int``; it is imported only when needed.
COMMANDS: dict[str, Command] = {
    "sign": Command("sign", "sign a body file as a vendor would and print the headers"),
    "verify": Command("verify", "check a captured request against a secret"),
    "send": Command("send", "post signed sample deliveries to a receiver"),
    "serve": Command("serve", "run a local receiver that stores every authenticated delivery"),
    "inbox": Command("inbox", "list, show, replay, purge and erase stored deliveries"),
    "process": Command("process", "run your handlers on stored deliveries that still need them"),
    "migrate": Command("migrate", "create or upgrade a store's schema"),
    "demo": Command("demo", "run a receiver and send it every sample: the library in seconds"),
}

_EXAMPLES = f"""\
examples:
  {PROG} demo                                  # everything end to end, in a few seconds
  {PROG} verify body.json --headers headers.txt
  {PROG} serve --port 8000
  {PROG} send --vendor idenfy --to http://127.0.0.1:8000/idenfy
  {PROG} inbox list

exit codes: 0 success, 1 check failed, 2 usage/configuration error, 3 network error,
            4 optional dependency missing, 130 interrupted, 143 terminated (SIGTERM)"""


#: A URL's user information (``postgresql://app:secret@db/app``): up to the last ``@`` before the
#: query or fragment (a password may hold an unencoded ``/`` or ``@``; an ``@`` in a query
#: string, ``?email=a@b``, is not user information).
_URL_USERINFO = re.compile(r"(\b[A-Za-z][A-Za-z0-9+.-]*://)[^\s?#]*@")
#: A password setting: libpq's ``password=`` / ``sslpassword=``, the ``PGPASSWORD=`` variable, a
#: URL's ``?password=`` parameter; its value quoted (argparse's repr escapes the quotes) or up to
#: the next space or ``&``.
_PASSWORD_SETTING = re.compile(
    r"(\w*password\s*=\s*)(\\?'.*?\\?'|\\?\".*?\\?\"|[^\s&'\"]+)", re.IGNORECASE
)


def _redact_credentials(text: str) -> str:
    """``text`` with the user information of URLs and the values of password settings hidden."""
    return _PASSWORD_SETTING.sub(r"\1***", _URL_USERINFO.sub(r"\1***@", text))


class _Parser(argparse.ArgumentParser):
    """argparse's parser, except that a usage error does not print the credentials of a store or
    broker URL it quotes ("unrecognized arguments: --inbox postgresql://app:secret@db/app")."""

    def error(self, message: str) -> NoReturn:
        super().error(_redact_credentials(message))


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The whole parser; with ``only``, just that command's module is imported (the others are
    listed in the help by their summary)."""
    parser = _Parser(
        prog=PROG,
        formatter_class=Formatter,
        description=(
            "Receive, check and replay KYC webhooks from iDenfy, ComplyCube, Yoti and Identomat."
        ),
        epilog=_EXAMPLES,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {kw.__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, command in COMMANDS.items():
        sub = commands.add_parser(
            name, formatter_class=Formatter, help=command.summary, description=command.summary
        )
        if only is None or only == name:
            module = importlib.import_module(f"{__name__}.{command.module}")
            module.add_parser(sub)
            sub.set_defaults(func=module.run)
    return parser


def _command_name(argv: Sequence[str]) -> str | None:
    for item in argv:
        if not item.startswith("-"):
            return item if item in COMMANDS else None
        if item in ("-h", "--help", "--version"):
            return None
    return None


class _LastPoolWarning(logging.Handler):
    """Keeps the last line of psycopg_pool's last warning ("error connecting in 'kyc_webhooks':
    ... FATAL: database "x" does not exist": the server's words, never a password)."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.last = ""

    def emit(self, record: logging.LogRecord) -> None:
        lines = [line.strip() for line in record.getMessage().splitlines() if line.strip()]
        if lines:  # "... port 5432 failed: FATAL:  database "x" does not exist" (a hint below)
            self.last = lines[0][:400]

    def explain(self, message: str) -> str:
        """``message``, with the last failed attempt's reason when it says the store could not
        connect and does not give that reason itself."""
        if (
            not self.last
            or "no connection within" not in message
            or "the last attempt failed:" in message
        ):
            return message
        reason = self.last.rpartition("failed: ")[2] or self.last
        if not reason.isprintable():
            reason = reason.encode("unicode_escape", "backslashreplace").decode("ascii")
        return f"{message}; the last attempt: {reason}"


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code (the console script exits with it)."""
    args_list = list(sys.argv[1:] if argv is None else argv)
    name = _command_name(args_list)
    try:
        parser = build_parser(only=name or "")  # imports the command's module: takes a while
        args = parser.parse_args(args_list)
    except SystemExit as exc:  # --help, --version, usage errors (argparse prints them)
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    except KeyboardInterrupt:  # a Ctrl-C this early was a traceback
        err(f"{PROG}: interrupted")
        return EXIT_INTERRUPTED
    except BrokenPipeError:  # `--help | head`
        stream_gone(sys.stdout)
        return EXIT_OK
    if getattr(args, "func", None) is None:
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    # psycopg_pool warns of every failed connection attempt; with no logging configured they
    # reached stderr through logging's last resort, many lines above the command's one-line
    # error (review R33). A handler of their own keeps the last one instead -- the only place
    # that says why (a database that does not exist, a password refused), added to the error
    # line -- unless the application's logging (`process --app`) takes them.
    attempts = _LastPoolWarning()
    logging.getLogger("psycopg.pool").addHandler(attempts)
    try:
        code: int = args.func(args)
    except CliError as exc:
        err(f"{PROG}: error: {attempts.explain(exc.message)}")
        return exc.code
    except kw.StoreSchemaError as exc:  # does not pass by itself: not "try again"
        err(f"{PROG}: error: {exc.message}")
        return EXIT_USAGE
    except kw.StoreError as exc:
        err(f"{PROG}: error: {attempts.explain(exc.message)}")
        return EXIT_UNAVAILABLE
    except kw.WebhookError as exc:
        err(f"{PROG}: error: {exc.message}")
        return EXIT_USAGE
    except KeyboardInterrupt:
        err(f"{PROG}: interrupted")
        return EXIT_INTERRUPTED
    except Terminated:
        err(f"{PROG}: terminated")
        return EXIT_TERMINATED
    except BrokenPipeError:
        # A write past out()/err(), which carry on to the command's own code: what the command
        # would have answered is not known, so not a success.
        stream_gone(sys.stdout)
        return EXIT_FAILED
    return code
