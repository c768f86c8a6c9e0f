"""The random-fault chaos soak, its live part: a thread that applies a planned schedule.

`plan_faults` (testkit.chaos.soak) decides every fault up front; `FaultSchedule` starts each on
its proxy at its time and ends it after its duration, then leaves every proxy clean. The load
and the invariants are the project's (its soak test), since only it knows its routes.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from types import TracebackType
from typing import Self

from testkit.chaos.proxy import Proxy
from testkit.chaos.soak import DOWN, PlannedFault

SOAK_TOXIC_NAME = "soak"


class FaultSchedule:
    """``with FaultSchedule(faults, proxies): <load>``: the faults run beside the block.

    The schedule's clock starts on entering; on leaving, the thread stops and every proxy is
    reset, whatever was still in force. `errors` lists faults that could not be applied.
    """

    def __init__(
        self,
        faults: tuple[PlannedFault, ...],
        proxies: Mapping[str, Proxy],
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        unknown = sorted({fault.dependency for fault in faults} - set(proxies))
        if unknown:
            raise ValueError(f"no proxy for {', '.join(unknown)}; proxies: {', '.join(proxies)}")
        self._faults = faults
        self._proxies = proxies
        self._clock = clock
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="chaos-soak", daemon=True)
        self.applied: list[PlannedFault] = []
        self.errors: list[str] = []

    def __enter__(self) -> Self:
        self._started = self._clock()
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._stop.set()
        self._thread.join()
        for proxy in self._proxies.values():
            proxy.reset()

    def _run(self) -> None:
        # Events in time order: (when, 0 = end before 1 = start at the same instant, fault).
        events = sorted(
            [(fault.end_s, 0, fault) for fault in self._faults]
            + [(fault.start_s, 1, fault) for fault in self._faults],
            key=lambda event: (event[0], event[1]),
        )
        for when, is_start, fault in events:
            delay = self._started + when - self._clock()
            if delay > 0 and self._stop.wait(delay):
                return
            try:
                if is_start:
                    self._start(fault)
                    self.applied.append(fault)
                else:
                    self._end(fault)
            except Exception as error:  # one bad fault must not end the soak: report it
                self.errors.append(f"{fault.describe()}: {type(error).__name__}: {error}")

    def _start(self, fault: PlannedFault) -> None:
        proxy = self._proxies[fault.dependency]
        if fault.kind == DOWN:
            proxy.disable()
        else:
            proxy.add_toxic(
                fault.kind, stream=fault.stream, name=SOAK_TOXIC_NAME, **fault.attributes
            )

    def _end(self, fault: PlannedFault) -> None:
        proxy = self._proxies[fault.dependency]
        if fault.kind == DOWN:
            proxy.enable()
        elif any(toxic.name == SOAK_TOXIC_NAME for toxic in proxy.toxics()):
            proxy.remove_toxic(SOAK_TOXIC_NAME)
