"""The run's one header line: mode, seed and each service's source. Facts only."""

from __future__ import annotations

from collections.abc import Sequence

from testkit.infra.resolve import Resolution


def format_header(mode: str, seed: int, resolutions: Sequence[Resolution]) -> str:
    """e.g. testkit: mode=MOCK seed=123 postgres=url(postgresql://127.0.0.1:5432/test) redis=..."""
    parts = [f"testkit: mode={mode}", f"seed={seed}"]
    # Sources put only masked URLs in their details, so the line is safe to print and share.
    parts.extend(f"{resolution.service}={resolution.describe()}" for resolution in resolutions)
    return " ".join(parts)
