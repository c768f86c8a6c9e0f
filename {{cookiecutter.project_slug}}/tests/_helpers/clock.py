"""A clock the test moves by hand, for code that takes its time source as a parameter."""

from __future__ import annotations


class FrozenClock:
    """Returns ``now`` until the test changes it: time is a true boundary, so a fake is right."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds
