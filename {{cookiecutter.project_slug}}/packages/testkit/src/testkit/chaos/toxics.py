"""The fault vocabulary: Toxiproxy's toxics, validated, plus the pure arithmetic each one needs.

The names (kinds, attributes, streams, toxicity) are Toxiproxy's own, so a test reads the same
whichever backend runs it and the Toxiproxy backend sends a toxic as it is. Nothing here does
I/O: the in-process proxy (testkit.chaos.in_process) asks these functions how long to wait, where
to cut a chunk and how many bytes may pass, so the semantics are unit-tested without sockets.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Literal

Stream = Literal["upstream", "downstream"]
STREAMS: tuple[Stream, ...] = ("upstream", "downstream")


@dataclass(frozen=True, slots=True)
class ToxicKind:
    """One kind of toxic: its attributes (all integers, default 0, as in Toxiproxy) and meaning."""

    name: str
    attributes: Mapping[str, str]  # attribute -> unit / meaning, in Toxiproxy's order
    summary: str


KINDS: dict[str, ToxicKind] = {
    kind.name: kind
    for kind in (
        ToxicKind(
            "latency",
            {"latency": "ms", "jitter": "ms, +/-"},
            "delays every chunk by latency +/- a random jitter",
        ),
        ToxicKind("bandwidth", {"rate": "KB/s"}, "passes at most `rate` KB (1000 bytes) per s"),
        ToxicKind("slow_close", {"delay": "ms"}, "delays the close of the connection by `delay`"),
        ToxicKind(
            "timeout",
            {"timeout": "ms"},
            "drops all data and closes the connection after `timeout`; 0 = hang until removed",
        ),
        ToxicKind(
            "reset_peer",
            {"timeout": "ms"},
            "on the next data, waits `timeout` then resets the connection (TCP RST)",
        ),
        ToxicKind(
            "slicer",
            {"average_size": "bytes", "size_variation": "bytes", "delay": "us"},
            "cuts chunks into pieces of average_size +/- size_variation, `delay` apart",
        ),
        ToxicKind(
            "limit_data",
            {"bytes": "bytes"},
            "passes `bytes` bytes in its direction, then closes the connection",
        ),
    )
}


def _one_of(values: Iterable[object]) -> str:
    return ", ".join(str(value) for value in values)


@dataclass(frozen=True, slots=True)
class Toxic:
    """A toxic as Toxiproxy describes it; build one with `make_toxic`, which validates it."""

    name: str
    kind: str
    stream: Stream
    toxicity: float
    attributes: Mapping[str, int] = field(default_factory=dict)

    def attribute(self, name: str) -> int:
        return self.attributes.get(name, 0)

    def to_json(self) -> dict[str, object]:
        """The body of Toxiproxy's POST /proxies/{proxy}/toxics."""
        return {
            "name": self.name,
            "type": self.kind,
            "stream": self.stream,
            "toxicity": self.toxicity,
            "attributes": dict(self.attributes),
        }


def make_toxic(
    kind: str,
    *,
    stream: str = "downstream",
    toxicity: float = 1.0,
    name: str | None = None,
    **attributes: int,
) -> Toxic:
    """A validated toxic; a bad kind, stream, toxicity or attribute is a one-line ValueError.

    The default name is Toxiproxy's: `<kind>_<stream>`.
    """
    spec = KINDS.get(kind)
    if spec is None:
        raise ValueError(f"unknown toxic kind {kind!r}; allowed: {_one_of(KINDS)}")
    if stream not in STREAMS:
        raise ValueError(f"toxic stream must be one of {_one_of(STREAMS)}, got {stream!r}")
    if isinstance(toxicity, bool) or not isinstance(toxicity, int | float):
        raise ValueError(f"toxicity must be a number from 0 to 1, got {toxicity!r}")
    if not 0.0 <= toxicity <= 1.0:
        raise ValueError(f"toxicity must be from 0 to 1, got {toxicity!r}")
    for attribute, value in attributes.items():
        if attribute not in spec.attributes:
            raise ValueError(
                f"{kind} has no attribute {attribute!r}; allowed: {_one_of(spec.attributes)}"
            )
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            unit = spec.attributes[attribute]
            raise ValueError(
                f"{kind} {attribute} must be a whole number >= 0 ({unit}), got {value!r}"
            )
    values = {attribute: attributes.get(attribute, 0) for attribute in spec.attributes}
    _check_kind_rules(kind, values)
    toxic_name = name if name is not None else f"{kind}_{stream}"
    if not toxic_name or "/" in toxic_name:
        raise ValueError(f"toxic name must be non-empty and without '/', got {toxic_name!r}")
    return Toxic(toxic_name, kind, stream, float(toxicity), values)


def _check_kind_rules(kind: str, values: Mapping[str, int]) -> None:
    """The rules that span attributes (Toxiproxy documents them; we enforce them up front)."""
    if kind == "latency" and values["jitter"] > values["latency"]:
        raise ValueError(
            f"latency jitter ({values['jitter']} ms) must not exceed latency "
            f"({values['latency']} ms): the delay would go negative"
        )
    if kind == "bandwidth" and values["rate"] == 0:
        raise ValueError("bandwidth rate must be >= 1 KB/s (0 would pass no data at all)")
    if kind == "slicer":
        if values["average_size"] < 1:
            raise ValueError("slicer average_size must be >= 1 byte")
        if values["size_variation"] >= values["average_size"]:
            raise ValueError(
                f"slicer size_variation ({values['size_variation']}) must be less than "
                f"average_size ({values['average_size']})"
            )


# --- the arithmetic of each toxic, used per chunk by the in-process proxy -----------------


def latency_delay(toxic: Toxic, rng: random.Random) -> float:
    """Seconds a chunk waits after it arrived: latency +/- a uniform jitter."""
    delay_ms = toxic.attribute("latency")
    jitter_ms = toxic.attribute("jitter")
    if jitter_ms > 0:
        delay_ms += rng.randint(-jitter_ms, jitter_ms)
    return max(delay_ms, 0) / 1000


# Toxiproxy sends a slow link's data in 100 ms pieces rather than one late burst.
BANDWIDTH_TICK_S = 0.1


def bandwidth_pieces(length: int, rate_kb_s: int) -> list[tuple[int, float]]:
    """How to pass `length` bytes at `rate_kb_s`: (piece size, seconds to wait before it)."""
    per_tick = rate_kb_s * 1000 * BANDWIDTH_TICK_S
    step = max(int(per_tick), 1)
    pieces: list[tuple[int, float]] = []
    offset = 0
    while offset < length:
        size = min(step, length - offset)
        pieces.append((size, size / (rate_kb_s * 1000)))
        offset += size
    return pieces


def slice_sizes(length: int, average: int, variation: int, rng: random.Random) -> list[int]:
    """Toxiproxy's slicer: halve around the middle (+/- variation) until pieces are small."""
    if length - average <= variation:
        return [length] if length else []
    middle = length // 2 + (rng.randint(-variation, variation) if variation else 0)
    middle = min(max(middle, 1), length - 1)
    return slice_sizes(middle, average, variation, rng) + slice_sizes(
        length - middle, average, variation, rng
    )


def limit_data_allowance(limit: int, transmitted: int, chunk_length: int) -> tuple[int, bool]:
    """(bytes of the chunk that may pass, whether the connection closes after them)."""
    remaining = max(limit - transmitted, 0)
    passing = min(remaining, chunk_length)
    return passing, transmitted + passing >= limit


def applies(toxicity: float, rng: random.Random) -> bool:
    """Whether a toxic acts on one connection: decided once per connection, like Toxiproxy."""
    if toxicity >= 1.0:
        return True
    return toxicity > 0.0 and rng.random() < toxicity
