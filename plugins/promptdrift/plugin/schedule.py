"""When each case runs: all at once in a thread pool while recording, on demand while replaying.

Recording is dominated by the model's latency, so in a recording mode the
cases of the run are submitted, in collection order, to a pool of
``--prompt-concurrency`` threads as the run starts; each case item then waits
for its own case. A case runs whole in one thread, so the turns of a
conversation keep their order; different cases overlap. Every case has its
own cassette, recorder and transport (see :mod:`promptdrift.record.transport`), so
nothing is shared but the connection pool and the ``openai`` client in front of it.

Replay is CPU-bound: there the cases run one by one, in the item that asks.
Either way :class:`CaseRuns` runs each case once per process and keeps the
outcome for the suite's gates.

Under ``--prompt-batch`` the cases run in rounds instead (:meth:`CaseRuns.run_in_rounds`): each runs
until a call waits for a provider batch, the waiting calls go out as batches, and the cases run again
once the answers have arrived.

Under pytest-xdist each worker runs its own items one by one: xdist already
spreads them over processes, and a worker does not know in advance which
items it will get.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FuturesTimeout
from concurrent.futures import wait as futures_wait
from typing import TYPE_CHECKING

from promptdrift.core.errors import Deferred
from promptdrift.run.outcome import Outcome

if TYPE_CHECKING:
    from promptdrift.record.batch import BatchRun, Lane
    from promptdrift.record.client import Route
    from promptdrift.record.recorder import Recorder
    from promptdrift.suite.model import Provider

Run = Callable[[], Outcome]
RouteRun = Callable[["Route | None"], Outcome]


WAITING = Deferred("waiting for a batch")  # one for every waiting case: each case's own would keep its frames


def _attempt(run: RouteRun, route: Route) -> tuple[Outcome | None, BaseException | None]:
    try:
        return run(route), None
    except Deferred:  # the case waits for a batch: runs again next round
        return None, WAITING
    except Exception as exc:  # anything else is its outcome
        return None, exc


class CaseRuns:
    """Each case's outcome (or error), by node id, run once."""

    def __init__(self, concurrency: int) -> None:
        self.concurrency = concurrency
        self._futures: dict[str, Future[Outcome]] = {}
        self._settled: dict[str, tuple[Outcome | None, BaseException | None]] = {}  # batch rounds: no Future each
        self._pool: ThreadPoolExecutor | None = None
        self._lock = threading.Lock()
        self.started: float | None = None
        self.last_done: float | None = None
        self.submitted = self.finished = 0

    def start(self, runs: Iterable[tuple[str, Run]]) -> int:
        """Submit ``(nodeid, run)`` pairs to the thread pool, in order; returns how many."""
        # Twice as many threads as requests in flight: while a case saves its cassette or runs
        # its checks, another case's request already holds its slot (see recorder.Upstream).
        self._pool = ThreadPoolExecutor(max_workers=2 * self.concurrency, thread_name_prefix="promptdrift")
        self.started = time.perf_counter()
        count = 0
        for nodeid, run in runs:
            with self._lock:
                if nodeid in self._futures:
                    continue
                future = self._futures[nodeid] = self._pool.submit(run)
            future.add_done_callback(self._done)  # outside the lock: it runs at once if already done
            count += 1
        self.submitted = count
        return count

    def run_in_rounds(self, runs: Sequence[tuple[str, RouteRun]], batches: BatchRun) -> None:
        """``--prompt-batch``: run every case, each until a call of it waits for a batch; send those calls as
        batches, wait, and run the waiting cases again, until every case has finished (or failed).

        Each round runs the cases in the thread pool, taking turns at their own work (:meth:`BatchRun.turn`:
        a round is CPU work) except while a call goes live (a streamed request); the answers a case already
        has are replayed to it from what arrived, so a round costs only CPU up to its first new call.
        """
        self.started = time.perf_counter()
        waiting = [(nodeid, run) for nodeid, run in runs if not self.ran_here(nodeid)]
        self.submitted = len(waiting)

        def attempt(pair: tuple[str, RouteRun]) -> tuple[Outcome | None, BaseException | None]:
            lanes: list[Lane] = []

            def route(recorder: Recorder, provider: Provider) -> Lane:
                lanes.append(batches.lane(recorder, provider))
                return lanes[-1]

            with batches.turn():
                outcome, error = _attempt(pair[1], route)
            if error is not WAITING:
                batches.forget({lane.display for lane in lanes})  # its answers are in its cassette now
            return outcome, error

        with ThreadPoolExecutor(max_workers=max(1, self.concurrency), thread_name_prefix="promptdrift") as pool:
            while waiting:
                tried = list(zip(waiting, pool.map(attempt, waiting), strict=True))
                waiting = []
                for (nodeid, run), (outcome, error) in tried:
                    if error is WAITING:
                        waiting.append((nodeid, run))
                        continue
                    with self._lock:
                        self._settled[nodeid] = (outcome, error)
                    self._done()
                if waiting:
                    batches.settle()
        batches.finish()

    def _done(self, _future: object = None) -> None:
        """One case finished (a pool future's done-callback, or a batch round's own count)."""
        with self._lock:
            self.finished += 1
            self.last_done = time.perf_counter()

    @property
    def pool_seconds(self) -> float | None:
        """Wall time from starting the pool to its last finished case (``None`` without a pool)."""
        if self.started is None or self.last_done is None:
            return None
        return self.last_done - self.started

    def ran_here(self, nodeid: str) -> bool:
        """Whether this process ran (or is running) the case: its outcome can be read without running it."""
        with self._lock:
            return nodeid in self._futures or nodeid in self._settled

    def outcome(self, nodeid: str, run: Run, *, keep: bool = True) -> Outcome:
        """The case's outcome: from the pool, from an earlier call, or by running it now.

        Raises what the run raised. ``keep=False`` forgets it afterwards (no gate needs it),
        so a long replay does not hold every answer in memory.
        """
        with self._lock:
            settled = self._settled.get(nodeid) if keep else self._settled.pop(nodeid, None)
        if settled is not None:
            outcome, error = settled
            if error is not None:
                raise error
            assert outcome is not None
            return outcome
        with self._lock:
            future = self._futures.get(nodeid)
            if future is None:
                future = self._futures[nodeid] = Future()
                mine = True
            else:
                mine = False
        if mine:
            try:
                future.set_result(run())
            except BaseException as exc:
                future.set_exception(exc)
        try:
            while True:  # wake up now and then: a Ctrl-C delivered to a pool thread reaches this one
                try:
                    return future.result(timeout=0.1)
                except FuturesTimeout:
                    continue
        finally:
            if not keep:
                with self._lock:
                    self._futures.pop(nodeid, None)

    def shutdown(self, *, wait: bool = False) -> None:
        """Cancel cases not yet started; those in flight finish and save (or keep the old cassette).

        ``wait``: return only when they have (the run ends with every cassette it started written).
        """
        if self._pool is not None:
            self._pool.shutdown(wait=wait, cancel_futures=True)

    def settle(self, timeout: float) -> int:
        """After :meth:`shutdown`, wait up to ``timeout`` seconds for the cases in flight; how many still are."""
        with self._lock:
            running = [f for f in self._futures.values() if not f.done()]
        return len(futures_wait(running, timeout=timeout).not_done) if running else 0
