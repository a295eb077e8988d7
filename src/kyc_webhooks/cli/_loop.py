"""The loop of ``kyc-webhooks process`` and ``manage.py kyc_webhooks process``: batches of
``process_pending()`` -- once, or polling with back-off until :meth:`ProcessLoop.stop` (the
caller's :func:`~kyc_webhooks.cli._common.stop_on_signals`: SIGTERM or Ctrl-C). Under ``loop``
a failing store (a lock past its timeout, a server restart or failover, a full pool) is logged
(class and message only) and waited out with the same back-off. With ``async def`` handlers
:meth:`ProcessLoop.run_async` runs every batch on one event loop, so that a client the handlers
share stays bound to it."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import Callable
from typing import Any

import kyc_webhooks as kw

logger = logging.getLogger("kyc_webhooks.cli")


class ProcessLoop:
    """Batches of ``receiver.process_pending(limit=..., max_attempts=...)`` and their counts.

    ``check`` runs before the first batch, as part of it: a store error it raises is waited out
    under ``loop`` like a batch's. ``report`` is called with the summary of every batch that
    processed something. The wait after a batch is none when it was full (more may be waiting),
    else ``interval``, doubling up to ``max_interval`` while batches find nothing or fail.
    ``max_rounds`` (0: no limit) ends the loop after that many batches."""

    def __init__(
        self,
        receiver: kw.Receiver,
        *,
        loop: bool,
        limit: int,
        max_attempts: int | None = None,
        interval: float,
        max_interval: float,
        max_rounds: int = 0,
        check: Callable[[], None] | None = None,
        report: Callable[[Any], None] | None = None,
    ) -> None:
        self.receiver = receiver
        self.loop = loop
        self.options: dict[str, int] = {"limit": limit}
        if max_attempts is not None:
            self.options["max_attempts"] = max_attempts
        self.interval = interval
        self.max_interval = max_interval
        self.max_rounds = max_rounds
        self.check = check
        self.report = report
        self.succeeded = self.failed = self.rounds = 0
        self._delay = interval
        self._stopped = threading.Event()
        self._wake: Callable[[], None] | None = None

    @property
    def stopped(self) -> bool:
        return self._stopped.is_set()

    def stop(self) -> None:
        """End the loop after the delivery in progress; from any thread or a signal handler."""
        self._stopped.set()
        wake = self._wake
        if wake is not None:
            with contextlib.suppress(RuntimeError):  # the event loop closed meanwhile
                wake()

    def run(self) -> bool:
        """Run batches until the loop ends; True if :meth:`stop` ended it."""
        while not self.stopped:
            try:
                if self.check is not None:
                    self.check()
                    self.check = None
                wait = self._done(self._batch())
            except kw.StoreError as exc:
                wait = self._store_failed(exc)
            if wait is None:
                break
            if wait:
                self._stopped.wait(wait)
        return self.stopped

    async def run_async(self) -> bool:
        """:meth:`run` for async handlers: every batch on this one event loop, the wait cut
        short by :meth:`stop` (which may come from another thread: the loop sets the event)."""
        event = asyncio.Event()
        loop = asyncio.get_running_loop()

        def wake() -> None:
            loop.call_soon_threadsafe(event.set)

        self._wake = wake
        try:
            while not self.stopped:
                try:
                    if self.check is not None:
                        await asyncio.to_thread(self.check)
                        self.check = None
                    wait = self._done(await self._batch_async())
                except kw.StoreError as exc:
                    wait = self._store_failed(exc)
                if wait is None:
                    break
                if wait and not self.stopped:
                    with contextlib.suppress(asyncio.TimeoutError):
                        await asyncio.wait_for(event.wait(), wait)
        finally:
            self._wake = None
        return self.stopped

    # A batch is up to ``limit`` deliveries, claimed one at a time (process_pending claims one
    # per step anyway) so that stop() ends it after the delivery in progress: a SIGTERM waited
    # for the whole batch -- up to 100 handlers -- and a shutdown's grace period then ended in
    # SIGKILL in the middle of one (review R29).

    def _batch(self) -> kw.ProcessSummary:
        outcomes: list[kw.Outcome] = []
        one = {**self.options, "limit": 1}
        try:
            for _ in range(self.options["limit"]):
                summary = self.receiver.process_pending(**one)
                outcomes.extend(summary.outcomes)
                if not summary.processed or self.stopped:
                    break
        except kw.StoreError:
            self._report_partial(outcomes)
            raise
        return kw.ProcessSummary(tuple(outcomes))

    async def _batch_async(self) -> kw.ProcessSummary:
        outcomes: list[kw.Outcome] = []
        one = {**self.options, "limit": 1}
        try:
            for _ in range(self.options["limit"]):
                summary = await self.receiver.process_pending_async(**one)
                outcomes.extend(summary.outcomes)
                if not summary.processed or self.stopped:
                    break
        except kw.StoreError:
            self._report_partial(outcomes)
            raise
        return kw.ProcessSummary(tuple(outcomes))

    def _report_partial(self, outcomes: list[kw.Outcome]) -> None:
        """Count what a batch did before its store failed (the failure is the caller's)."""
        if outcomes:
            summary = kw.ProcessSummary(tuple(outcomes))
            self.succeeded += summary.succeeded
            self.failed += summary.failed
            if self.report is not None:
                self.report(summary)

    def _done(self, summary: Any) -> float | None:
        """Count a batch; the seconds to wait before the next one (0: at once), None to end."""
        self.rounds += 1
        self.succeeded += summary.succeeded
        self.failed += summary.failed
        if summary.processed and self.report is not None:
            self.report(summary)
        if not self.loop or self._last_round():
            return None
        if summary.processed >= self.options["limit"]:
            self._delay = self.interval  # more may be waiting: no pause
            return 0.0
        if summary.processed:
            self._delay = self.interval
        return self._back_off()

    def _store_failed(self, exc: kw.StoreError) -> float | None:
        """Under ``loop``, log a batch's store error and wait it out; without it -- or for a
        schema this version cannot use, which no wait mends -- it ends the run."""
        if not self.loop or isinstance(exc, kw.StoreSchemaError):
            raise exc
        self.rounds += 1
        wait = self._back_off()
        # The class and the store's own message: it names the operation and the server (never
        # a password), never a statement's values.
        logger.error(
            "process: the store failed error=%s detail=%s; next batch in %g s",
            type(exc).__name__,
            exc.message,
            wait,
        )
        return None if self._last_round() else wait

    def _last_round(self) -> bool:
        return bool(self.max_rounds) and self.rounds >= self.max_rounds

    def _back_off(self) -> float:
        wait = self._delay
        self._delay = min(self._delay * 2, self.max_interval)
        return wait
