"""Credentials and vendors for the commands, all read from the ``Vendor`` classes.

Each vendor class says which constructor parameter takes its credential (``credential_param``),
which environment variable holds it (``credential_env``), which other options come from the
environment (``option_envs``), how a delivery is signed (``signer``) and where its sample payloads
live (the ``_samples`` module next to ``models_module``). A vendor added to the registry therefore
works in ``sign``, ``verify``, ``send``, ``serve`` and ``inbox`` with no change here.

Sources, lowest precedence first: the environment, the ``--config`` TOML file (or
``$KYC_WEBHOOKS_CONFIG``), and, for one vendor, ``--secret-env`` / ``--secret-file`` / ``--secret``.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import kyc_webhooks as kw
from kyc_webhooks import _registry

from ._common import EXIT_MISSING_DEPENDENCY, CliError, read_bytes

if TYPE_CHECKING:
    from kyc_webhooks import Vendor

CONFIG_VAR = "KYC_WEBHOOKS_CONFIG"


def vendor_names() -> tuple[str, ...]:
    """Every registered vendor, in the registry's order (read on each call: not a copy)."""
    return tuple(_registry.VENDOR_NAMES)


def vendor_class(name: str) -> type[Vendor]:
    return _registry.vendor_class(name)


def env_summary() -> str:
    """``IDENFY_SIGNING_KEY, ..., YOTI_AUTH_TOKEN + YOTI_AUTH_TYPE, ...`` for help texts."""
    parts = []
    for name in vendor_names():
        cls = vendor_class(name)
        parts.append(" + ".join((cls.credential_env, *cls.option_envs.values())))
    return ", ".join(parts)


def option_names() -> list[str]:
    """Constructor options (other than the credential) of any vendor: ``--auth-type`` ..."""
    names: list[str] = []
    for name in vendor_names():
        names.extend(o for o in vendor_class(name).option_envs if o not in names)
    return names


@dataclass
class VendorSetting:
    """Constructor keyword arguments for one vendor and where they came from (for messages)."""

    vendor: str
    kwargs: dict[str, Any]
    source: str

    @property
    def options(self) -> dict[str, Any]:
        """Everything but the credential (``auth_type`` ...)."""
        param = vendor_class(self.vendor).credential_param
        return {k: v for k, v in self.kwargs.items() if k != param}


# -- config file ---------------------------------------------------------------------------------


def config_keys() -> dict[str, frozenset[str]]:
    keys = {
        name: frozenset({vendor_class(name).credential_param, *vendor_class(name).option_envs})
        for name in vendor_names()
    }
    keys["serve"] = frozenset({"host", "port", "inbox"})
    return keys


def load_toml(path: str) -> dict[str, Any]:
    module = "tomllib" if sys.version_info >= (3, 11) else "tomli"
    try:
        toml: Any = importlib.import_module(module)
    except ImportError:
        raise CliError(
            "reading a TOML config on Python 3.10 needs tomli: pip install tomli (the cli extra)",
            EXIT_MISSING_DEPENDENCY,
        ) from None
    raw = read_bytes(path, "config")
    try:
        data: dict[str, Any] = toml.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise CliError(f"config file {path} is not UTF-8") from None
    except toml.TOMLDecodeError as exc:
        # The decoder's message names a line and column, never a value.
        raise CliError(f"config file {path} is not valid TOML: {exc}") from None
    allowed_keys = config_keys()
    for table, value in data.items():
        allowed = allowed_keys.get(table)
        if allowed is None:
            raise CliError(
                f"config file {path}: unknown table [{table}]; "
                f"expected {', '.join(f'[{t}]' for t in allowed_keys)}"
            )
        if not isinstance(value, dict):
            raise CliError(f"config file {path}: [{table}] must be a table")
        unknown = sorted(set(value) - allowed)
        if unknown:
            raise CliError(
                f"config file {path}: unknown key {unknown[0]!r} in [{table}]; "
                f"expected {', '.join(sorted(allowed))}"
            )
    return data


def config_path(args: argparse.Namespace) -> str | None:
    path: str | None = getattr(args, "config", None) or os.environ.get(CONFIG_VAR) or None
    return path


# -- settings ------------------------------------------------------------------------------------


def vendor_settings(args: argparse.Namespace) -> dict[str, VendorSetting]:
    """Every vendor with credentials: environment first, then the TOML file (which wins)."""
    settings: dict[str, VendorSetting] = {}
    for name in vendor_names():
        cls = vendor_class(name)
        value = os.environ.get(cls.credential_env)
        if value is None:
            continue
        kwargs: dict[str, Any] = {cls.credential_param: value}
        for option, var in cls.option_envs.items():
            if os.environ.get(var):
                kwargs[option] = os.environ[var]
        settings[name] = VendorSetting(name, kwargs, f"${cls.credential_env}")
    path = config_path(args)
    if path:
        data = load_toml(path)
        for name in vendor_names():
            table = data.get(name)
            if table is None:
                continue
            param = vendor_class(name).credential_param
            if param not in table:
                raise CliError(f"config file {path}: [{name}] needs {param}")
            settings[name] = VendorSetting(name, dict(table), f"{path} [{name}]")
    return settings


def has_single_secret(args: argparse.Namespace) -> bool:
    return bool(
        getattr(args, "secret_env", None)
        or getattr(args, "secret_file", None)
        or getattr(args, "secret", None) is not None
    )


def single_secret(args: argparse.Namespace, vendor: str) -> VendorSetting | None:
    """The credential given on the command line for ``vendor`` (``--secret*`` options), if any."""
    cls = vendor_class(vendor)
    value: str | None = None
    source = ""
    if getattr(args, "secret_env", None):
        var = args.secret_env
        value = os.environ.get(var)
        if value is None:
            raise CliError(f"environment variable {var} (--secret-env) is not set")
        source = f"${var}"
    elif getattr(args, "secret_file", None):
        raw = read_bytes(args.secret_file, "secret")
        # The first line without its line ending (bytes.splitlines: only \n, \r\n and \r end a
        # line); whatever follows it (a comment, a second key) is not part of the secret.
        first = raw.splitlines()[0] if raw else b""
        try:
            # utf-8-sig: a byte order mark written by a Windows editor is not part of the secret.
            value = first.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise CliError(f"secret file {args.secret_file} is not UTF-8") from None
        if not value.strip():
            raise CliError(f"secret file {args.secret_file} has no secret: its first line is empty")
        source = f"--secret-file {args.secret_file}"
    elif getattr(args, "secret", None) is not None:
        value = args.secret
        source = "--secret"
    if value is None:
        return None
    kwargs: dict[str, Any] = {cls.credential_param: value}
    for option, var in cls.option_envs.items():
        given = getattr(args, option, None) or os.environ.get(var)
        if given:
            kwargs[option] = given
    return VendorSetting(vendor, kwargs, source)


def apply_options(args: argparse.Namespace, setting: VendorSetting) -> VendorSetting:
    """Command-line options (``--auth-type``) override the setting's."""
    cls = vendor_class(setting.vendor)
    kwargs = dict(setting.kwargs)
    for option in cls.option_envs:
        given = getattr(args, option, None)
        if given:
            kwargs[option] = given
    return VendorSetting(setting.vendor, kwargs, setting.source)


def missing_credentials(vendor: str) -> str:
    return (
        f"no credentials for {vendor}: set {vendor_class(vendor).credential_env}, pass "
        f"--secret-env or --secret-file, or give a --config file with a [{vendor}] table"
    )


def signing_setting(args: argparse.Namespace, vendor: str) -> VendorSetting:
    """The credential used to sign for ``vendor``: ``--secret*`` options, else env/config."""
    single = single_secret(args, vendor)
    if single is not None:
        return single
    setting = vendor_settings(args).get(vendor)
    if setting is None:
        raise CliError(missing_credentials(vendor))
    return apply_options(args, setting)


def build_vendor(setting: VendorSetting) -> Vendor:
    try:
        return vendor_class(setting.vendor)(**setting.kwargs)
    except kw.ConfigurationError as exc:
        raise CliError(
            f"bad {setting.vendor} credentials from {setting.source}: {exc.message}"
        ) from None
    except TypeError:  # a config table naming an option this vendor's constructor lacks
        raise CliError(f"bad {setting.vendor} settings from {setting.source}") from None


def secret_text(setting: VendorSetting) -> str:
    """The (first) credential of ``setting``, as text, for signing."""
    param = vendor_class(setting.vendor).credential_param
    value = setting.kwargs.get(param)
    if isinstance(value, list):
        value = value[0] if value else None
    if not isinstance(value, str) or not value.strip():
        raise CliError(
            f"bad {setting.vendor} credentials from {setting.source}: {param} must not be empty"
        )
    return value


# -- signing and samples -------------------------------------------------------------------------


def sign(
    setting: VendorSetting,
    payload: Mapping[str, Any] | bytes,
    *,
    event_type: str | None,
) -> tuple[bytes, dict[str, str]]:
    """``(body, headers)`` as ``setting.vendor`` sends ``payload``, through the class's signer.
    The vendor object is built first, so that its constructor checks the options."""
    secret = secret_text(setting)
    build_vendor(setting)
    cls = vendor_class(setting.vendor)
    module_name, _, function = cls.signer.partition(":")
    signer = getattr(importlib.import_module(module_name), function)
    options = {k: str(v).lower() for k, v in setting.options.items()}
    try:
        body, headers = signer(setting.vendor, payload, secret, event_type=event_type, **options)
    except kw.UsageError as exc:
        # "... need event_type (the X header)": name the option that provides it.
        raise CliError(exc.message.replace("need event_type", "need --event-type")) from None
    except kw.WebhookError as exc:
        raise CliError(exc.message) from None
    return body, headers


def samples(vendor: str) -> Mapping[str, Mapping[str, Any]]:
    """The vendor's sample payloads by event type (``<package>._samples.SAMPLES``)."""
    package = vendor_class(vendor).models_module.rpartition(".")[0]
    try:
        module = importlib.import_module(package + "._samples")
    except ModuleNotFoundError:
        raise CliError(f"no sample payloads are available for {vendor}") from None
    found: Mapping[str, Mapping[str, Any]] = module.SAMPLES
    return found


def event_types(vendor: str) -> tuple[str, ...]:
    return tuple(samples(vendor))


def add_secret_options(parser: argparse.ArgumentParser) -> None:
    """``--config``, ``--secret-env``, ``--secret-file``, ``--secret`` and each vendor option
    (``--auth-type``) read from the vendor classes."""
    group = parser.add_argument_group(
        "credentials",
        f"Default: the vendor's environment variable ({env_summary()}) or the --config file.",
    )
    group.add_argument(
        "--config", metavar="FILE", help=f"TOML file with vendor tables (or ${CONFIG_VAR})"
    )
    group.add_argument(
        "--secret-env", metavar="VAR", help="read the secret from environment variable VAR"
    )
    group.add_argument(
        "--secret-file", metavar="FILE", help="read the secret from FILE (first line)"
    )
    group.add_argument(
        "--secret",
        metavar="VALUE",
        help="the secret itself (visible in the process list and shell history; prefer the others)",
    )
    for option in option_names():
        owners = [n for n in vendor_names() if option in vendor_class(n).option_envs]
        envs = [vendor_class(n).option_envs[option] for n in owners]
        group.add_argument(
            "--" + option.replace("_", "-"),
            dest=option,
            metavar=option.upper(),
            help=f"{', '.join(owners)}: the {option} constructor option (default: "
            f"${' / $'.join(envs)})",
        )
