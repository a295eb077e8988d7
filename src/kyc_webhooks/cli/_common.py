"""What every command shares: exit codes, the one-line error, output (``--quiet``/``--json``),
help formatting, file reading, confirmation of destructive actions and progress lines."""

from __future__ import annotations

import argparse
import codecs
import contextlib
import datetime as _dt
import enum
import json
import math
import os
import re
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, TextIO

from kyc_webhooks.outcome import loggable

if TYPE_CHECKING:
    from kyc_webhooks import WebhookEvent

PROG = "kyc-webhooks"

EXIT_OK = 0
#: A check failed: not authentic, a rejected/failed delivery, an unexpected demo outcome.
EXIT_FAILED = 1
#: Bad usage or configuration: unknown option, missing file, empty secret, invalid config file.
EXIT_USAGE = 2
#: Network: the URL is unreachable, the port is in use, the server failed.
EXIT_UNAVAILABLE = 3
#: An optional dependency is missing (``uvicorn`` for serve/demo, ``tomli`` on Python 3.10).
EXIT_MISSING_DEPENDENCY = 4
EXIT_INTERRUPTED = 130
#: 128 + SIGTERM: the process was asked to stop and did, cleaning up.
EXIT_TERMINATED = 143

LOOPBACK = "127.0.0.1"
#: The longest --timeout: a socket timeout must fit the platform's time_t (1e12 s does not).
MAX_TIMEOUT = 86400.0

EPILOG_EXIT = """\
exit codes: 0 success, 1 check failed, 2 usage/configuration error, 3 network error,
            4 optional dependency missing, 130 interrupted, 143 terminated (SIGTERM)"""


class CliError(Exception):
    """A failure reported as one line on stderr, with an exit code (no traceback)."""

    def __init__(self, message: str, code: int = EXIT_USAGE) -> None:
        super().__init__(message)
        self.message = message
        self.code = code


class Terminated(Exception):
    """SIGTERM (``kill PID``, ``docker stop``) under :func:`sigterm_raises`: ``main()`` answers
    exit 143, after the ``finally`` blocks on the way closed the store and removed temporary
    files."""


@contextlib.contextmanager
def signals_raise() -> Iterator[None]:
    """While this block runs, in the main thread, SIGTERM raises :class:`Terminated` (by default
    it ends the process at once: no store closed, no temporary inbox removed) and Ctrl-C raises
    ``KeyboardInterrupt`` even when the process started with SIGINT ignored (a background job of
    a script: Ctrl-C was lost until uvicorn installed its own handler, and a ``serve`` stopped
    with it right after its banner ran on). uvicorn installs its own handlers while it serves,
    then restores these and raises the signal again once it has shut down gracefully."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: Any) -> None:
        raise Terminated

    previous = signal.signal(signal.SIGTERM, handler)
    interrupt = signal.getsignal(signal.SIGINT)
    if interrupt == signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
        if interrupt == signal.SIG_IGN:
            signal.signal(signal.SIGINT, interrupt)


@contextlib.contextmanager
def stop_on_signals(stop: Callable[[], None]) -> Iterator[None]:
    """SIGTERM and SIGINT call ``stop`` (the delivery in progress finishes) instead of killing
    the process; a second one does what it did before (Ctrl-C: ``KeyboardInterrupt``, exit 130;
    SIGTERM: the process ends at once) -- for a worker whose store call hangs. Signal handlers
    can only be installed in the main thread. For ``kyc-webhooks process --loop`` and
    ``manage.py kyc_webhooks process --loop``."""

    def handler(signum: int, frame: Any) -> None:
        for caught, previous in saved.items():  # the next signal is not caught any more
            signal.signal(caught, previous)
        stop()

    saved: dict[signal.Signals, Any] = {}
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGTERM, signal.SIGINT):
            saved[sig] = signal.signal(sig, handler)
    try:
        yield
    finally:
        for sig, previous in saved.items():
            signal.signal(sig, previous)


def counted(count: int, one: str, many: str | None = None) -> str:
    """``"1 delivery"``, ``"2 deliveries"``: ``count`` and the noun it takes (``many``: the plural,
    ``one + "s"`` when not given)."""
    return f"{count} {one if count == 1 else many or one + 's'}"


def shown(text: str) -> str:
    """A value the sender chose (an event type, a delivery key, a field, a header name) as it
    may be printed, as log lines write it (:func:`~kyc_webhooks.outcome.loggable`): one with a
    character that is not printable -- a line break that would forge an output line, a
    terminal's escape sequence, a lone surrogate -- or with a backslash is written with Python's
    escapes (``\\n``, ``\\x1b``, ``\\ud800``; a backslash doubled, so that no value prints as
    another one would)."""
    return loggable(text) or ""


def _write(text: str, stream: TextIO) -> None:
    """``print(text)`` to ``stream``; a character its encoding cannot write (a lone surrogate,
    anything on an ASCII terminal) goes out as a ``\\`` escape instead of a traceback."""
    encoding = getattr(stream, "encoding", None) or "utf-8"
    try:
        text.encode(encoding, getattr(stream, "errors", None) or "strict")
    except UnicodeEncodeError:
        text = text.encode(encoding, "backslashreplace").decode(encoding)
    except LookupError:
        pass
    try:
        print(text, file=stream, flush=True)
    except BrokenPipeError:
        # The reader went away (`inbox list | head`, `verify --json | head -c 0`): the rest of
        # the output goes nowhere and the command goes on to its own exit code -- a forged
        # request's 1 under `verify`, where this was caught in main() and answered 0.
        stream_gone(stream)


def stream_gone(stream: TextIO | BinaryIO) -> None:
    """Point ``stream``'s file descriptor at the null device once its reader has gone (the
    Python docs' recipe for SIGPIPE): later writes, and the flush at exit, succeed unseen."""
    try:
        fd = stream.fileno()
    except (AttributeError, OSError, ValueError):
        return  # not a file (a test's capture): nothing to redirect
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, fd)
    finally:
        os.close(devnull)


def out(text: str = "") -> None:
    _write(text, sys.stdout)


def err(text: str) -> None:
    _write(text, sys.stderr)


class Formatter(argparse.RawDescriptionHelpFormatter):
    def __init__(self, prog: str) -> None:
        super().__init__(prog, max_help_position=32, width=100)


def epilog(*examples: str) -> str:
    """The ``examples:`` block every command's ``--help`` ends with, then the exit codes."""
    lines = "\n".join(f"  {line}" for line in examples)
    return f"examples:\n{lines}\n\n{EPILOG_EXIT}"


def seconds(text: str) -> float:
    """argparse ``type=`` for ``--timeout``: a finite number of seconds, above 0, at most a day."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of seconds, got {text!r}") from None
    if not (math.isfinite(value) and 0 < value <= MAX_TIMEOUT):
        raise argparse.ArgumentTypeError(
            f"must be a number of seconds above 0 and at most {MAX_TIMEOUT:g}, got {text!r}"
        )
    return value


def add_output_options(parser: argparse.ArgumentParser) -> None:
    """``--quiet`` and ``--json``, for every command that prints results."""
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--quiet", "-q", action="store_true", help="print only the summary line")
    group.add_argument("--json", action="store_true", help="print the results as JSON")


#: What JSON output never writes as is, though ``json.dumps(ensure_ascii=False)`` would: DEL and
#: the C1 controls (U+009B is a terminal's escape sequence on its own) and lone surrogates.
_NOT_WRITTEN_IN_JSON = re.compile(r"[\x7f-\x9f\ud800-\udfff]")


def emit_json(value: Any) -> None:
    text = json.dumps(value, indent=2, ensure_ascii=False, default=str)
    try:
        utf8 = codecs.lookup(getattr(sys.stdout, "encoding", None) or "utf-8").name == "utf-8"
    except LookupError:
        utf8 = False
    if not utf8 or _NOT_WRITTEN_IN_JSON.search(text):
        # JSON's own escapes: exact values, nothing for the terminal to act on, and ASCII, which
        # a Latin-1 or cp1252 stdout writes as the UTF-8 that JSON is (RFC 8259).
        text = json.dumps(value, indent=2, ensure_ascii=True, default=str)
    out(text)


def _read_up_to(file: BinaryIO, limit: int) -> bytes:
    """At most ``limit + 1`` bytes of ``file``, a chunk at a time: ``read(limit + 1)`` would
    allocate that much at once, whatever the file holds (review R57: a MemoryError for a 7-byte
    file under ``--max-body-size 100000000000``)."""
    chunks: list[bytes] = []
    left = limit + 1
    while left > 0:
        chunk = file.read(min(left, 1 << 20))
        if not chunk:
            break
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def read_bytes(path: str, what: str, *, limit: int | None = None) -> bytes:
    """The bytes of file ``path`` (``-``: stdin). With ``limit``: at most ``limit + 1`` of them,
    so that a body over a size cap is known to be over it without being read whole (a 3 GB file,
    ``/dev/zero``; review R53)."""
    if path == "-":
        return sys.stdin.buffer.read() if limit is None else _read_up_to(sys.stdin.buffer, limit)
    try:
        if limit is None:
            return Path(path).read_bytes()
        with open(path, "rb") as file:
            return _read_up_to(file, limit)
    except FileNotFoundError:
        raise CliError(f"{what} file not found: {path}") from None
    except IsADirectoryError:
        raise CliError(f"{what} file is a directory: {path}") from None
    except OSError as exc:
        raise CliError(f"cannot read {what} file {path}: {exc.strerror or exc}") from None


def table(rows: Sequence[Sequence[str]], header: Sequence[str]) -> list[str]:
    widths = [max(len(str(row[i])) for row in (header, *rows)) for i in range(len(header))]
    return [
        "  ".join(str(cell).ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in (header, *rows)
    ]


def when(value: _dt.datetime | None) -> str:
    if value is None:
        return "-"
    return value.astimezone(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S")


# -- destructive actions -------------------------------------------------------------------------


def add_confirm_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--dry-run", action="store_true", help="print what would be done; change nothing"
    )
    parser.add_argument(
        "--yes",
        "-y",
        action="store_true",
        help="do not ask (required off a terminal)",
    )


def confirm(action: str, *, yes: bool) -> None:
    """Ask before ``action`` on a terminal; off a terminal, ``--yes`` is required."""
    if yes:
        return
    if not sys.stdin.isatty():
        raise CliError(
            f"refusing to {action} without confirmation: pass --yes (no terminal to ask on), "
            "or --dry-run to see what would be done"
        )
    sys.stderr.write(f"{PROG}: {action}? [y/N] ")
    sys.stderr.flush()
    answer = sys.stdin.readline()
    if answer.strip().lower() not in ("y", "yes"):
        raise CliError("not confirmed; nothing was changed", EXIT_FAILED)


# -- progress ------------------------------------------------------------------------------------


class Progress:
    """Progress of a long run: on a terminal one line rewritten in place with the rate and the
    ETA (at most ten times a second); otherwise one line every ``every`` items. Goes to stderr
    when ``stream`` is not given, so that stdout keeps only results."""

    def __init__(
        self,
        what: str,
        total: int | None = None,
        *,
        every: int = 100,
        enabled: bool = True,
        stream: TextIO | None = None,
    ) -> None:
        self.what = what
        self.total = total
        self.every = max(1, every)
        self.enabled = enabled
        self.stream = stream if stream is not None else sys.stderr
        self.tty = self.stream.isatty()
        self.count = 0
        self.started = time.monotonic()
        self._drawn = 0.0

    def _line(self) -> str:
        elapsed = max(time.monotonic() - self.started, 1e-9)
        rate = self.count / elapsed
        done = f"{self.count}/{self.total}" if self.total else str(self.count)
        text = f"{self.what}: {done} ({rate:.1f}/s"
        if self.total and rate > 0:
            text += f", ETA {max(self.total - self.count, 0) / rate:.0f} s"
        return text + ")"

    def step(self, n: int = 1) -> None:
        self.count += n
        if not self.enabled:
            return
        if self.tty:
            now = time.monotonic()
            if now - self._drawn >= 0.1 or self.count == self.total:
                self._drawn = now
                self.stream.write("\r\x1b[2K" + self._line())
                self.stream.flush()
        elif self.count % self.every == 0:
            self.stream.write(self._line() + "\n")
            self.stream.flush()

    def close(self) -> None:
        if self.enabled and self.tty and self._drawn:
            self.stream.write("\r\x1b[2K")
            self.stream.flush()


# -- redacted summaries --------------------------------------------------------------------------

_MAX_VALUE = 80


def _render(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, enum.Enum):
        return str(value.value)
    if isinstance(value, _dt.datetime):
        return value.isoformat()
    if isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, str):
        return shown(value if len(value) <= _MAX_VALUE else value[: _MAX_VALUE - 1] + "…")
    if isinstance(value, Mapping):
        return f"{{{len(value)} fields}}"
    if isinstance(value, (list, tuple)):
        return f"[{len(value)} items]"
    fields = getattr(value, "model_fields_set", None)
    if fields is not None:
        # A nested model: never descend (its own personal fields are not ours to judge here).
        return f"{type(value).__name__} {{{len(fields)} fields}}"
    # Redaction markers and anything else: their repr is safe by construction.
    return repr(value) if repr(value) == "<redacted>" else type(value).__name__


def summary_lines(event: WebhookEvent) -> list[str]:
    """``name: value`` for every field the delivery set, personal and unknown fields shown as
    ``<redacted>`` (the model's own ``repr`` rules), nested objects shown by size only."""
    lines: list[str] = []
    for name, value in event.__repr_args__():
        if name in (None, "vendor", "event_type"):
            continue
        lines.append(f"{shown(name)}: {_render(value)}")  # an unknown field's name: the sender's
    return lines


def print_fields(event: WebhookEvent) -> None:
    """Print :func:`summary_lines` under a heading (nothing when there are none)."""
    lines = summary_lines(event)
    if lines:
        out("fields (personal data redacted):")
        for line in lines:
            out(f"  {line}")


def summary_fields(event: WebhookEvent) -> dict[str, object]:
    """The fields of :func:`summary_lines` as a mapping, for ``--json``: a JSON value stays one
    (``"final": false``, not ``"false"``; review R61), anything else is its text."""
    return {
        name: value if _is_json_scalar(value) else _render(value)
        for name, value in event.__repr_args__()
        if name is not None and name not in ("vendor", "event_type")
    }


def _is_json_scalar(value: object) -> bool:
    # An enum member is a str (its wire value); a Timestamp or a model is rendered as text.
    return value is None or type(value) in (bool, int, float) or isinstance(value, str)
