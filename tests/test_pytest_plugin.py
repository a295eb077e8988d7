"""The pytest plugin, used exactly as a user would: test files in a fresh directory, run by pytest,
with the fixtures coming from the ``pytest11`` entry point (nothing imported or configured)."""

from __future__ import annotations

import importlib
import pkgutil

import pytest

from kyc_webhooks._registry import VENDOR_NAMES

pytest_plugins = ["pytester"]


@pytest.fixture(autouse=True, scope="module")
def _vendor_modules_imported_first() -> None:
    """pytester runs each inner session in this process, then drops from ``sys.modules`` every
    module the run imported. A vendor module first imported there would be imported again by a
    later test as a second copy, whose classes are not the ones the rest of the suite holds
    (``isinstance(vendor, kw.Yoti)`` was false in tests/test_testing_tester.py run after this
    file). Every vendor module is imported here, before any inner run."""
    for name in VENDOR_NAMES:
        package = importlib.import_module(f"kyc_webhooks.{name}")
        for module in pkgutil.walk_packages(package.__path__, f"{package.__name__}."):
            importlib.import_module(module.name)


#: A conftest.py that hands the application's router (module ``myapp``) to the fixtures.
APP_ROUTER_CONFTEST = """
import pytest
import myapp

@pytest.fixture
def kyc_webhooks_router():
    return myapp.router
"""


def _run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    # -W error: the plugin must not emit warnings in a user's strict suite either.
    return pytester.runpytest("-W", "error", "-p", "no:cacheprovider", *args)


def test_a_handler_test_is_three_lines(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_user="""
        def test_denied_reaches_the_handler(kyc_tester):
            seen = []
            kyc_tester.on("identomat", "session-change")(seen.append)
            outcome = kyc_tester.deliver("identomat", "session-change", result="REJECTED")
            assert outcome.ok and outcome.handled == 1
            assert seen[0].model_dump(by_alias=True)["result"] == "REJECTED"
        """
    )
    result = _run(pytester)
    result.assert_outcomes(passed=1)


def test_every_vendor_works_out_of_the_box(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_user="""
        import pytest
        from kyc_webhooks import testing

        CASES = [(v, e) for v in ("idenfy", "complycube", "yoti", "identomat")
                 for e in testing.event_types(v)[:2]]

        @pytest.mark.parametrize(("vendor", "event_type"), CASES)
        def test_sample(kyc_tester, vendor, event_type):
            assert kyc_tester.deliver(vendor, event_type).status_code == 200
        """
    )
    result = _run(pytester)
    result.assert_outcomes(passed=8)


def test_overriding_the_router_tests_the_applications_handlers(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        myapp="""
        import kyc_webhooks as kw

        router = kw.Router()
        approved = []

        @router.on("complycube", "check.completed*")
        def on_check(event):
            approved.append(event.event_type)
        """
    )
    pytester.makeconftest(APP_ROUTER_CONFTEST)
    pytester.makepyfile(
        test_app="""
        import myapp

        def test_check_completed(kyc_tester):
            assert kyc_tester.deliver("complycube", "check.completed.clear").handled == 1
            assert myapp.approved == ["check.completed.clear"]

        def test_other_event_types_are_ignored(kyc_tester):
            assert kyc_tester.deliver("complycube", "client.created").handled == 0
        """
    )
    result = _run(pytester)
    result.assert_outcomes(passed=2)


def test_a_handler_is_never_added_to_an_overridden_router(pytester: pytest.Pytester) -> None:
    # Review R53: registered before the run's first delivery, a test's handler stayed on the
    # application's router for every later test (which then failed, or passed alone).
    pytester.makepyfile(
        myapp="""
        import kyc_webhooks as kw

        router = kw.Router()
        router.on("identomat")(lambda event: None)
        """
    )
    pytester.makeconftest(APP_ROUTER_CONFTEST)
    pytester.makepyfile(
        test_app="""
        import pytest
        import kyc_webhooks as kw
        import myapp

        def test_registering_is_refused_at_once(kyc_tester):
            with pytest.raises(kw.ConfigurationError, match="shared by every test"):
                kyc_tester.on("yoti")(lambda event: None)
            with pytest.raises(kw.ConfigurationError, match="shared by every test"):
                kyc_tester.on_event(kw.UnknownEvent)(lambda event: None)

        def test_a_later_test_sees_only_the_applications_handlers(kyc_tester):
            assert kyc_tester.deliver("yoti", "task_completion").handled == 0
        """
    )
    result = _run(pytester)
    result.assert_outcomes(passed=2)


def test_a_fresh_receiver_per_test_of_the_users_takes_handlers(pytester: pytest.Pytester) -> None:
    # Review R57: a receiver fixture building a new receiver (and router) per test shares
    # nothing; kyc_tester.on() refused it.
    pytester.makeconftest(
        """
        import pytest
        import kyc_webhooks as kw

        @pytest.fixture
        def kyc_webhooks_receiver(kyc_webhooks_secrets):
            return kw.Receiver(kw.Yoti(auth_token=kyc_webhooks_secrets["yoti"]), max_body_size=4096)
        """
    )
    pytester.makepyfile(
        test_app="""
        def test_one(kyc_tester):
            kyc_tester.on("yoti")(lambda event: None)
            assert kyc_tester.deliver("yoti", "task_completion").handled == 1

        def test_two(kyc_tester):
            kyc_tester.on("yoti")(lambda event: None)
            kyc_tester.on("yoti")(lambda event: None)
            assert kyc_tester.deliver("yoti", "task_completion").handled == 2
        """
    )
    result = _run(pytester)
    result.assert_outcomes(passed=2)


def test_overriding_receiver_and_secrets(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(
        """
        import pytest
        import kyc_webhooks as kw

        @pytest.fixture
        def kyc_webhooks_secrets():
            return {"yoti": "app-user:app-password"}

        @pytest.fixture
        def kyc_webhooks_receiver(kyc_webhooks_secrets):
            return kw.Receiver(kw.Yoti(auth_token=kyc_webhooks_secrets["yoti"]))
        """
    )
    pytester.makepyfile(
        test_app="""
        def test_only_yoti_is_configured(kyc_tester, kyc_webhooks_receiver):
            assert kyc_tester.receiver is kyc_webhooks_receiver
            assert kyc_tester.deliver("yoti", "session_completion").ok
            body, headers = kyc_tester.sign("yoti", {"session_id": "s", "topic": "x"})
            assert headers["Authorization"] == "Basic YXBwLXVzZXI6YXBwLXBhc3N3b3Jk"
        """
    )
    result = _run(pytester)
    result.assert_outcomes(passed=1)


def test_each_test_gets_fresh_secrets_and_router(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_user="""
        SEEN = []

        def test_one(kyc_tester, kyc_webhooks_secrets):
            SEEN.append(dict(kyc_webhooks_secrets))
            kyc_tester.on("*")(lambda event: None)
            assert kyc_tester.deliver("yoti", "task_completion").handled == 1

        def test_two(kyc_tester, kyc_webhooks_secrets):
            assert kyc_webhooks_secrets != SEEN[0]
            assert kyc_tester.deliver("yoti", "task_completion").handled == 0
        """
    )
    result = _run(pytester)
    result.assert_outcomes(passed=2)


def test_a_failing_user_assertion_fails_the_test(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_user="""
        def test_wrong_expectation(kyc_tester):
            assert kyc_tester.deliver("idenfy", "IDENTIFICATION_EXPIRED").status_code == 401
        """
    )
    result = _run(pytester)
    result.assert_outcomes(failed=1)


def test_async_handlers_through_deliver_async(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_user="""
        import asyncio

        def test_async(kyc_tester):
            seen = []

            @kyc_tester.on("idenfy", "IDENTIFICATION_*")
            async def on_result(event):
                seen.append(event.event_type)

            delivery = kyc_tester.deliver_async("idenfy", "IDENTIFICATION_AUTO_FINISHED")
            outcome = asyncio.run(delivery)
            assert outcome.handled == 1 and seen == ["IDENTIFICATION_AUTO_FINISHED"]
        """
    )
    result = _run(pytester)
    result.assert_outcomes(passed=1)


def test_fixtures_are_listed_with_their_docs(pytester: pytest.Pytester) -> None:
    result = _run(pytester, "--fixtures")
    # Each fixture with its doc, in whatever order pytest lists them (it sorts by "path:line" as
    # text: a fixture on line 102 comes before one on line 58).
    for lines in (
        ["*fixtures defined from kyc_webhooks.testing.pytest_plugin*"],
        ["kyc_webhooks_secrets -- *", "*Fresh throwaway secrets*"],
        ["kyc_webhooks_router -- *"],
        ["kyc_webhooks_receiver -- *"],
        ["kyc_tester -- *", "*Deliver signed samples*"],
        ["kyc_webhooks -- *", "*Deprecated: the former name of ``kyc_tester``*"],
    ):
        result.stdout.fnmatch_lines(lines)


def test_the_plugin_is_registered_through_the_entry_point(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_user="""
        def test_uses_fixture(kyc_tester):
            pass
        """
    )
    # Disabling the entry point's name removes the fixtures: they come from the pytest11 entry.
    result = _run(pytester, "-p", "no:kyc_webhooks")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*fixture 'kyc_tester' not found*"])


def test_the_fixture_no_longer_shadows_the_package(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_user="""
        def test_import_inside_a_test(kyc_tester):
            import kyc_webhooks
            import kyc_webhooks as kw

            assert kyc_webhooks.Receiver is kw.Receiver
            assert isinstance(kyc_tester.receiver, kyc_webhooks.Receiver)
        """
    )
    _run(pytester).assert_outcomes(passed=1)


def test_the_old_fixture_name_still_works_but_is_deprecated(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_user="""
        def test_old_name(kyc_webhooks):
            assert kyc_webhooks.deliver("yoti", "session_completion").ok
        """
    )
    result = pytester.runpytest("-p", "no:cacheprovider", "-W", "default::DeprecationWarning")
    result.assert_outcomes(passed=1, warnings=1)
    result.stdout.fnmatch_lines(["*DeprecationWarning: the kyc_webhooks fixture is deprecated*"])
    _run(pytester).assert_outcomes(errors=1)  # a strict suite sees it as an error


def test_a_handler_exception_fails_the_test_with_its_message(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_user="""
        def test_buggy_handler(kyc_tester):
            @kyc_tester.on("complycube")
            def on_check(event):
                raise LookupError("no account for " + event.event_type)

            kyc_tester.deliver("complycube", "check.completed")

        def test_asserting_the_500_is_still_possible(kyc_tester):
            kyc_tester.raise_handler_errors = False
            kyc_tester.on("complycube")(lambda event: 1 / 0)
            assert kyc_tester.deliver("complycube", "check.completed").status_code == 500
        """
    )
    result = _run(pytester)
    result.assert_outcomes(failed=1, passed=1)
    result.stdout.fnmatch_lines(
        ["*raise LookupError(*", "E*LookupError: no account for check.completed"]
    )


def test_an_override_typo_fails_the_test_with_the_valid_names(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_user="""
        def test_typo(kyc_tester):
            kyc_tester.deliver("idenfy", "IDENTIFICATION_AUTO_FINISHED", status__overal="DENIED")
        """
    )
    result = _run(pytester)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*no field 'overal' in 'status'*closest first: overall*"])
