"""Argument types shared by testkit's commands: a bad value is refused by argparse in one line
naming the option and what it accepts (usage error, exit 2)."""

from __future__ import annotations

import argparse


def _number(raw: str, kind: type[int] | type[float], wanted: str, lowest: float) -> float:
    try:
        value = kind(raw)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be {wanted}, got {raw!r}") from None
    if value < lowest:
        raise argparse.ArgumentTypeError(f"must be {wanted}, got {raw!r}")
    return value


def positive_int(raw: str) -> int:
    return int(_number(raw, int, "a positive integer", 1))


def non_negative_int(raw: str) -> int:
    return int(_number(raw, int, "0 or more", 0))


def non_negative_seconds(raw: str) -> float:
    return _number(raw, float, "a number of seconds >= 0", 0)


def percent(raw: str) -> float:
    value = _number(raw, float, "a percentage from 0 to 100", 0)
    if value > 100:
        raise argparse.ArgumentTypeError(f"must be a percentage from 0 to 100, got {raw!r}")
    return value
