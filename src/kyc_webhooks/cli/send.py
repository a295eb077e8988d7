"""``kyc-webhooks send``: POST signed sample deliveries to a receiver."""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from typing import Any

import kyc_webhooks as kw
from kyc_webhooks import testing

from . import _credentials as creds
from ._common import (
    EXIT_FAILED,
    EXIT_OK,
    PROG,
    CliError,
    Progress,
    add_output_options,
    emit_json,
    epilog,
    err,
    out,
    seconds,
)
from ._http import check_url, describe, post

#: Runs up to this many deliveries print one line per delivery; longer ones print progress.
LIST_LIMIT = 20
#: At most this many refusals are listed one by one in a long run.
MAX_REFUSALS_LISTED = 20
MAX_COUNT = 100_000


def add_parser(parser: argparse.ArgumentParser) -> None:
    parser.description = (
        "POST signed sample payloads to a receiver and print each response status. "
        "Without --event-type, every documented event type of the vendor is sent. Runs of more "
        f"than {LIST_LIMIT} deliveries show progress instead of one line per delivery."
    )
    parser.epilog = epilog(
        f"{PROG} send --vendor idenfy --event-type IDENTIFICATION --to http://127.0.0.1:8000/idenfy",
        f"{PROG} send --vendor complycube --to http://127.0.0.1:8000/complycube --count 50",
        f"{PROG} send --vendor all --to http://127.0.0.1:8000 --vendor-path",
        f"{PROG} send --vendor yoti --vendor identomat --to http://127.0.0.1:8000 --vendor-path",
        f"{PROG} send --vendor identomat --event-type session-change --set result=REJECTED \\",
        "     --to http://127.0.0.1:8000/identomat",
        f"{PROG} send --vendor identomat --event-type session-change --add extra.note=1 --to URL",
        f"{PROG} send --vendor complycube --tamper --to URL        # must be refused (401)",
    )
    parser.add_argument(
        "--vendor",
        required=True,
        action="append",
        choices=(*creds.vendor_names(), "all"),
        help="vendor (repeatable), or 'all': every vendor that has credentials",
    )
    parser.add_argument(
        "--event-type", action="append", metavar="TYPE", help="event type (repeatable)"
    )
    # The old spelling: hidden, still accepted, with a note on stderr.
    parser.add_argument("--event", action="append", dest="old_event", help=argparse.SUPPRESS)
    parser.add_argument("--to", required=True, metavar="URL", help="the receiver's URL")
    parser.add_argument(
        "--vendor-path", action="store_true", help="append /<vendor> to URL for each delivery"
    )
    parser.add_argument("--count", type=int, default=1, metavar="N", help="send everything N times")
    parser.add_argument(
        "--set",
        action="append",
        metavar="PATH=VALUE",
        help="override a field of the sample (JSON value; nested with '.' or '__'); a path "
        "the sample lacks is refused, closest names suggested. Repeatable",
    )
    parser.add_argument(
        "--add",
        action="append",
        metavar="PATH=VALUE",
        help="add (or set) a field the sample may lack, e.g. an unknown-field test; missing "
        "objects are created. Applied after --set. Repeatable",
    )
    parser.add_argument("--tamper", action="store_true", help="change the body after signing")
    parser.add_argument(
        "--timeout", type=seconds, default=10.0, metavar="S", help="per request (10)"
    )
    parser.add_argument(
        "--every",
        type=int,
        default=100,
        metavar="N",
        help="off a terminal, a progress line every N deliveries (100)",
    )
    add_output_options(parser)
    creds.add_secret_options(parser)


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def parse_set(items: Sequence[str] | None, option: str = "--set") -> dict[str, Any]:
    overrides: dict[str, Any] = {}
    for item in items or ():
        path, sep, raw = item.partition("=")
        if not sep or not path:
            raise CliError(f"{option} expects PATH=VALUE, got {item!r}")
        try:
            overrides[path] = json.loads(raw, parse_constant=_no_constant)
        except (ValueError, RecursionError):
            # Not JSON (NaN and Infinity are not either; nested deeper than json reads): a
            # plain string.
            overrides[path] = raw
    return overrides


def event_types(args: argparse.Namespace) -> list[str] | None:
    """``--event-type`` values, and the deprecated ``--event`` ones (with a note)."""
    wanted = list(args.event_type or ())
    if args.old_event:
        err(f"{PROG}: note: --event is deprecated; use --event-type")
        wanted.extend(args.old_event)
    return wanted or None


def _event_list(vendor: str, wanted: Sequence[str] | None) -> list[str]:
    available = creds.event_types(vendor)
    if not wanted:
        return list(available)
    for name in wanted:
        if name not in available:
            raise CliError(
                f"no {vendor} sample for event type {name!r}; available: {', '.join(available)}"
            )
    return list(wanted)


def select_vendors(args: argparse.Namespace) -> list[creds.VendorSetting]:
    """The credential of each vendor to send for. ``all``: every vendor with credentials, the
    others skipped with the reason on stderr; an error only when none has any."""
    names = list(dict.fromkeys(args.vendor))
    several = "all" in names or len(names) > 1
    if several and creds.has_single_secret(args):
        raise CliError("--secret, --secret-env and --secret-file need a single --vendor")
    if "all" not in names:
        return [creds.signing_setting(args, name) for name in names]
    configured = creds.vendor_settings(args)
    chosen: list[creds.VendorSetting] = []
    for name in creds.vendor_names():
        setting = configured.get(name)
        if setting is None:
            if name not in names:
                err(
                    f"{PROG}: skipped {name}: no credentials "
                    f"(set {creds.vendor_class(name).credential_env} or add a [{name}] table)"
                )
            else:
                raise CliError(creds.missing_credentials(name))
            continue
        chosen.append(creds.apply_options(args, setting))
    if not chosen:
        raise CliError(
            "--vendor all: no vendor has credentials; set any of "
            + ", ".join(creds.vendor_class(n).credential_env for n in creds.vendor_names())
            + " or pass --config FILE"
        )
    return chosen


def run(args: argparse.Namespace) -> int:
    url = check_url(args.to)
    if args.count < 1 or args.count > MAX_COUNT:
        raise CliError(f"--count must be between 1 and {MAX_COUNT}")
    if args.every < 1:
        raise CliError("--every must be at least 1")
    wanted = event_types(args)
    if wanted and ("all" in args.vendor or len(set(args.vendor)) > 1):
        raise CliError("--event-type needs a single --vendor")
    settings = select_vendors(args)
    overrides = parse_set(args.set)
    additions = parse_set(args.add, "--add")
    plan: list[tuple[str, str, tuple[bytes, dict[str, str]]]] = []
    for setting in settings:
        for event_type in _event_list(setting.vendor, wanted):
            # set_path on a copy, not sample_payload(**overrides): no path can collide with a
            # keyword of the signing call. --set names fields of the sample (a typo such as
            # reslt=REJECTED would add a field and send the APPROVED sample); --add creates.
            payload = json.loads(json.dumps(creds.samples(setting.vendor)[event_type]))
            try:
                for path, value in overrides.items():
                    testing.set_path(payload, path, value, create=False)
            except kw.WebhookError as exc:
                raise CliError(
                    f"--set: {setting.vendor} {event_type}: "
                    + exc.message.replace("call set_path() on the payload", "use --add PATH=VALUE")
                ) from None
            try:
                for path, value in additions.items():
                    testing.set_path(payload, path, value)
            except kw.WebhookError as exc:
                raise CliError(f"--add: {exc.message}") from None
            delivery = creds.sign(setting, payload, event_type=event_type)
            if args.tamper:
                delivery = tuple(testing.tamper(delivery))  # type: ignore[assignment]
            plan.append((setting.vendor, event_type, delivery))
    return _send(args, url, plan)


def _send(
    args: argparse.Namespace, url: str, plan: list[tuple[str, str, tuple[bytes, dict[str, str]]]]
) -> int:
    total = len(plan) * args.count
    width = len(str(total))
    listing = total <= LIST_LIMIT and not args.quiet and not args.json
    progress = Progress("sent", total, every=args.every, enabled=not listing and not args.json)
    failed = 0
    number = 0
    results: list[dict[str, Any]] = []
    try:
        for _ in range(args.count):
            for vendor, event_type, (body, headers) in plan:
                number += 1
                target = url.rstrip("/") + f"/{vendor}" if args.vendor_path else url
                response = post(target, body, headers, timeout=args.timeout)
                ok = 200 <= response.status < 300
                line = f"[{number:>{width}}/{total}] {vendor} {event_type} -> {describe(response)}"
                if not ok:
                    failed += 1
                if args.json:
                    results.append(
                        {
                            "vendor": vendor,
                            "event_type": event_type,
                            "status": response.status,
                            "duplicate": bool(response.body.get("duplicate")),
                        }
                    )
                elif listing or (not ok and not args.quiet and failed <= MAX_REFUSALS_LISTED):
                    progress.close()
                    out(line)
                progress.step()
    finally:
        progress.close()
    summary = f"sent {total}: {total - failed} accepted, {failed} refused"
    if args.json:
        emit_json(
            {"sent": total, "accepted": total - failed, "refused": failed, "results": results}
        )
    else:
        if failed > MAX_REFUSALS_LISTED and not args.quiet and not listing:
            out(f"({failed - MAX_REFUSALS_LISTED} more refusals not listed)")
        out(summary)
    return EXIT_OK if failed == 0 else EXIT_FAILED
