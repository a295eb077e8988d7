"""Every code block of README.md and docs/**/*.md runs as written (Sybil).

* Each ```python block is executed, in document order, in one namespace per document (later
  blocks see the names earlier ones defined), with the setup below: a temporary working directory,
  throwaway secrets in the environment, and the placeholder names the snippets use (`IDENFY_KEY`,
  `body`, `headers`, `myapp` ...). Nothing is skipped.
* A block preceded by ``<!-- compile-only: REASON -->`` (a fragment of a file such as
  ``urls.py``, or code that calls a vendor's API) is compiled, not executed: a syntax error fails.
* ``<!-- invisible-code-block: python ... -->`` comments run code the reader does not see: they
  call the test functions a snippet defines (with a real test client) and check what a snippet
  claims. Conventions: CONTRIBUTING.md, "Documentation snippets".
* ``kyc-webhooks ...`` command lines in ```sh blocks must parse with the CLI's parser.
* No install line names the unpublished package (issue #10 item 19).
"""

from __future__ import annotations

import re
import shlex
import sys
from collections.abc import Iterator
from contextlib import redirect_stderr
from io import StringIO
from pathlib import Path
from types import ModuleType
from typing import Any

import django
import pytest
from django.conf import settings
from sybil import Document, Example, Region, Sybil
from sybil.parsers.markdown import PythonCodeBlockParser
from sybil.parsers.markdown.lexers import FencedCodeBlockLexer

import kyc_webhooks as kw
from kyc_webhooks.cli import build_parser
from kyc_webhooks.testing import signed_delivery

ROOT = Path(__file__).resolve().parent.parent
DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
DOC_IDS = [str(path.relative_to(ROOT)) for path in DOCUMENTS]

#: Fence languages the docs may use; anything else (```py, ```python3, ```python title=...) would
#: silently escape execution, so it fails `test_every_fence_has_a_known_language`.
KNOWN_LANGUAGES = {"python", "sh", "toml", "json", ""}

COMPILE_ONLY = re.compile(r"<!--\s*compile-only:\s*(?P<reason>\S[^>]*?)\s*-->\s*\Z")

# The Django test client needs settings: the same ones tests/test_integration_django.py configures
# (whichever module is imported first configures them; per-test URLs come from override_settings).
if not settings.configured:
    settings.configure(
        DEBUG=False,
        SECRET_KEY="django-test-only-secret-key",
        ALLOWED_HOSTS=["testserver", "127.0.0.1"],
        ROOT_URLCONF=__name__,
        USE_TZ=True,
    )
    django.setup()

urlpatterns: list[Any] = []

# -- the setup every document runs in ------------------------------------------------------------

#: Throwaway credentials in the environment, as the docs' "configure from the environment" snippets
#: expect.
ENVIRONMENT = {
    "IDENFY_SIGNING_KEY": "docs-idenfy-signing-key",
    "COMPLYCUBE_SECRET": "docs-complycube-secret",
    "YOTI_AUTH_TOKEN": "docs-yoti-user:docs-yoti-password",
    "IDENTOMAT_API_KEY": "docs-identomat-api-key",
}


def _myapp() -> tuple[ModuleType, ModuleType]:
    """``myapp``, the application the testing snippets test: ``myapp.on_session_change``,
    ``myapp.webhooks.router`` (records iDenfy verdicts in ``myapp.db``) and
    ``myapp.build_receiver(complycube_secret=...)`` (ComplyCube with a store)."""
    myapp = ModuleType("myapp")
    webhooks = ModuleType("myapp.webhooks")
    verdicts: dict[str, str] = {}

    class Users:
        def user(self, client_id: str) -> Any:
            return type("User", (), {"kyc": verdicts.get(client_id)})()

    router = kw.Router()

    @router.on("idenfy", "IDENTIFICATION_*")
    def record_verdict(event: Any) -> None:
        verdicts[event.client_id] = str(event.status.overall).lower()

    def on_session_change(event: Any) -> None:
        pass

    def build_receiver(*, complycube_secret: str) -> kw.Receiver:
        receiver = kw.Receiver(kw.ComplyCube(secret=complycube_secret), store=kw.MemoryStore())
        receiver.on("complycube", "check.*")(on_session_change)
        return receiver

    webhooks.router = router  # type: ignore[attr-defined]
    myapp.webhooks = webhooks  # type: ignore[attr-defined]
    myapp.db = Users()  # type: ignore[attr-defined]
    myapp.on_session_change = on_session_change  # type: ignore[attr-defined]
    myapp.build_receiver = build_receiver  # type: ignore[attr-defined]
    return myapp, webhooks


def flask_client(receiver: kw.Receiver) -> Any:
    """A Flask test client for an app serving ``receiver`` under /webhooks."""
    from flask import Flask

    from kyc_webhooks.integrations.flask import webhook_blueprint

    app = Flask("docs")
    app.register_blueprint(webhook_blueprint(receiver))
    return app.test_client()


def django_client(receiver: kw.Receiver) -> Any:
    """A Django test client (CSRF checks on) for a URLconf serving ``receiver`` under /webhooks."""
    from django.test import Client, override_settings
    from django.urls import path

    from kyc_webhooks.integrations.django import webhook_view

    urls = ModuleType("docs_webhook_urls")
    view = webhook_view(receiver)
    urls.urlpatterns = [path("webhooks/<str:vendor>", view), path("webhooks", view)]  # type: ignore[attr-defined]

    class UrlconfClient:
        """``django.test.Client().post`` with the URLconf above."""

        def post(self, *args: Any, **kwargs: Any) -> Any:
            with override_settings(ROOT_URLCONF=urls):
                return Client(enforce_csrf_checks=True).post(*args, **kwargs)

    return UrlconfClient()


def starlette_client(app: Any) -> Any:
    """A Starlette (FastAPI) test client for an ASGI app."""
    from starlette.testclient import TestClient

    return TestClient(app)


def fastapi_client(receiver: kw.Receiver) -> Any:
    """A Starlette test client for a FastAPI app serving ``receiver`` under /webhooks."""
    from fastapi import FastAPI

    from kyc_webhooks.integrations.fastapi import webhook_router

    app = FastAPI()
    app.include_router(webhook_router(receiver))
    return starlette_client(app)


@pytest.fixture
def namespace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """What a document's snippets start from. The docs write placeholder secrets as ``"..."``;
    ``body, headers`` is an iDenfy delivery signed with that, so the snippets' receivers accept it.
    """
    monkeypatch.chdir(tmp_path)  # snippets create files such as webhooks.db
    for name, value in ENVIRONMENT.items():
        monkeypatch.setenv(name, value)
    myapp, webhooks = _myapp()
    monkeypatch.setitem(sys.modules, "myapp", myapp)  # `import myapp.webhooks` works
    monkeypatch.setitem(sys.modules, "myapp.webhooks", webhooks)
    body, headers = signed_delivery("idenfy", "IDENTIFICATION_AUTO_FINISHED", "...")
    handled: list[kw.WebhookEvent] = []
    return {
        "__name__": "docs_snippet",
        "myapp": myapp,
        "IDENFY_KEY": ENVIRONMENT["IDENFY_SIGNING_KEY"],
        "YOTI_TOKEN": ENVIRONMENT["YOTI_AUTH_TOKEN"],
        "YOTI_NOTIFY_TOKEN": ENVIRONMENT["YOTI_AUTH_TOKEN"],
        "YOTI_CLIENT_SDK_ID": "docs-yoti-sdk-id",
        "secret": ENVIRONMENT["IDENFY_SIGNING_KEY"],
        "token": ENVIRONMENT["YOTI_AUTH_TOKEN"],
        "api_key": ENVIRONMENT["IDENTOMAT_API_KEY"],
        "handler": handled.append,  # a handler: records the events it gets
        "handled": handled,
        "my_receiver": kw.Receiver(kw.Idenfy(signing_key="test-key")),
        "body": body,
        "headers": headers,
        "flask_client": flask_client,
        "django_client": django_client,
        "starlette_client": starlette_client,
        "fastapi_client": fastapi_client,
    }


# -- the Sybil configuration ---------------------------------------------------------------------


def compile_only(example: Example) -> None:
    """The evaluator of a ``<!-- compile-only: ... -->`` block: a syntax check."""
    compile(str(example.parsed), f"{example.path}:{example.line}", "exec", dont_inherit=True)


class Snippets:
    """Sybil's Markdown Python parser, with ``compile-only`` blocks compiled instead of run."""

    def __init__(self) -> None:
        self.python = PythonCodeBlockParser()

    def __call__(self, document: Document) -> Iterator[Region]:
        for region in self.python(document):
            if COMPILE_ONLY.search(document.text, 0, region.start):
                region.evaluator = compile_only
            yield region


SYBIL = Sybil(parsers=[Snippets()])


def _fences(path: Path) -> list[tuple[str, str, int]]:
    """(language, source, line) of every fenced block of a Markdown file."""
    document = Document(path.read_text(encoding="utf-8"), str(path))
    lexer = FencedCodeBlockLexer(language=r"[^\n]*")
    return [
        (
            str(region.lexemes["language"]).strip(),
            str(region.lexemes["source"]),
            document.text.count("\n", 0, region.start) + 1,
        )
        for region in lexer(document)
    ]


@pytest.mark.parametrize("path", DOCUMENTS, ids=DOC_IDS)
def test_python_snippets_run_as_written(path: Path, namespace: dict[str, Any]) -> None:
    document = SYBIL.parse(path)
    document.namespace.update(namespace)
    examples = list(document.examples())
    expected = sum(language == "python" for language, _, _ in _fences(path))
    fenced = [e for e in examples if document.text[e.start :].lstrip().startswith("```")]
    assert len(fenced) == expected  # Sybil sees every ```python block
    for example in examples:
        example.evaluate()
    # A test function a snippet defines must also run: an invisible block calls it.
    invisible = "".join(str(e.parsed) for e in examples if e not in fenced)
    defined = [name for name in document.namespace if name.startswith("test_")]
    assert [name for name in defined if f"{name}(" not in invisible] == []


@pytest.mark.parametrize("path", DOCUMENTS, ids=DOC_IDS)
def test_every_fence_has_a_known_language(path: Path) -> None:
    unknown = [(line, lang) for lang, _, line in _fences(path) if lang not in KNOWN_LANGUAGES]
    assert unknown == []


def _cli_lines(path: Path) -> list[tuple[int, str]]:
    """The arguments of each ``kyc-webhooks ...`` command of the ```sh blocks (also after ``&&``),
    without env assignments, redirections and comments; usage synopses (a ``[--option]`` word) are
    left out."""
    found = []
    for language, source, line in _fences(path):
        if language != "sh":
            continue
        for offset, text in enumerate(source.splitlines(), start=1):
            segment: list[str] = []
            for word in [*shlex.split(text, comments=True), "&&"]:
                if word not in {"&&", "||", ";", "|"}:
                    segment.append(word)
                    continue
                while segment and re.fullmatch(r"[A-Z_]+=\S*", segment[0]):
                    segment.pop(0)
                synopsis = any(w.startswith("[") for w in segment)  # `inbox list [--vendor V]`
                if segment and segment[0].endswith("kyc-webhooks") and not synopsis:
                    redirect = [i for i, w in enumerate(segment) if w in {">", ">>", "<"}]
                    args = segment[1 : redirect[0] if redirect else None]
                    found.append((line + offset, shlex.join(args)))
                segment = []
    return found


CLI_LINES = [(path, line, cmd) for path in DOCUMENTS for line, cmd in _cli_lines(path)]


@pytest.mark.parametrize(
    ("path", "line", "command"),
    CLI_LINES,
    ids=[f"{p.relative_to(ROOT)}:{line}" for p, line, _ in CLI_LINES],
)
def test_cli_commands_in_docs_parse(path: Path, line: int, command: str) -> None:
    errors = StringIO()
    with redirect_stderr(errors):
        try:
            build_parser().parse_args(shlex.split(command))
        except SystemExit:
            pytest.fail(f"{path.name}:{line}: `kyc-webhooks {command}`: {errors.getvalue()}")


def test_the_docs_name_cli_commands() -> None:
    assert {cmd.split()[0] for _, _, cmd in CLI_LINES} >= {"demo", "sign", "verify", "serve"}


# -- install lines (issue #10 item 19) -----------------------------------------------------------

#: No release is published yet: an install line must install from a checkout (`pip install -e`).
PUBLISHED_INSTALL = re.compile(r"pip install\s+(?:-U\s+|--upgrade\s+)?['\"]?kyc[-_]webhooks", re.I)


def _texts_that_may_say_pip_install() -> list[Path]:
    return sorted(
        [
            ROOT / "README.md",
            ROOT / "CONTRIBUTING.md",
            *(ROOT / "docs").rglob("*.md"),
            *(ROOT / "src").rglob("*.py"),
            *(ROOT / "examples").rglob("*.py"),
        ]
    )


def test_no_install_line_names_the_unpublished_package() -> None:
    offending = [
        f"{path.relative_to(ROOT)}:{number}: {line.strip()}"
        for path in _texts_that_may_say_pip_install()
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1)
        if PUBLISHED_INSTALL.search(line)
    ]
    assert offending == []


@pytest.mark.parametrize(
    "line",
    [
        'pip install "kyc-webhooks[flask]"',
        "pip install 'kyc-webhooks[server]'",
        "pip install kyc-webhooks",
        "pip install -U kyc_webhooks",
    ],
)
def test_the_install_check_catches(line: str) -> None:
    assert PUBLISHED_INSTALL.search(line)


def test_the_install_check_allows_a_checkout() -> None:
    assert not PUBLISHED_INSTALL.search('pip install -e ".[flask]"')
    assert not PUBLISHED_INSTALL.search("pip install uvicorn")
