"""Recorded cassettes (tests/cassettes, vcrpy JSON) read as data: each parses, its requests have
the provider's API shape, and every recording was made with the frozen provider and model.

`testkit replay-frozen` checks the frozen versions and then replays the recordings (GOLDEN mode)
of the tests that own them; `validate-test-data` checks the shape. A mismatch is one line naming
the cassette, what it recorded and what is frozen. Unless given, the frozen version is the one
the recordings were made with (`recorded_version`): the cassettes are its one home.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit


@dataclass(frozen=True, slots=True)
class ProviderShape:
    """What a provider's request and response bodies must hold, by request path."""

    paths: tuple[str, ...]
    request_keys: tuple[str, ...]
    response_keys: tuple[str, ...]


PROVIDERS: dict[str, ProviderShape] = {
    # OpenAI's chat completions, and the compatible APIs the service can point at.
    "openai": ProviderShape(("/chat/completions",), ("model", "messages"), ("model", "choices")),
}


class CassetteError(ValueError):
    """A cassette or a frozen version is wrong (one line naming the file)."""


@dataclass(frozen=True, slots=True)
class Recording:
    """One recorded exchange: where it is, what it asked and which model answered."""

    cassette: str
    method: str
    path: str
    provider: str | None
    request_model: str | None
    response_model: str | None
    problems: tuple[str, ...]


def provider_for(path: str) -> str | None:
    return next(
        (name for name, shape in PROVIDERS.items() if path.endswith(shape.paths)),
        None,
    )


def _json_body(raw: Any) -> Any:
    if isinstance(raw, dict) and "string" in raw:
        raw = raw["string"]
    if isinstance(raw, bytes):
        raw = raw.decode("utf-8")
    if not isinstance(raw, str):
        return None
    try:
        return json.loads(raw)
    except json.JSONDecodeError:
        return None


def read_cassette(text: str, *, source: str) -> list[Recording]:
    """The recordings of one cassette; CassetteError when it is not a vcrpy cassette."""
    try:
        document = json.loads(text)
    except json.JSONDecodeError as error:
        raise CassetteError(f"{source}: not valid JSON ({error})") from None
    interactions = document.get("interactions") if isinstance(document, dict) else None
    if not isinstance(interactions, list):
        raise CassetteError(f"{source}: no interactions list (not a vcrpy cassette)")
    recordings: list[Recording] = []
    for number, interaction in enumerate(interactions, start=1):
        request = interaction.get("request", {}) if isinstance(interaction, dict) else {}
        response = interaction.get("response", {}) if isinstance(interaction, dict) else {}
        if not isinstance(request.get("uri"), str) or not isinstance(response.get("status"), dict):
            raise CassetteError(f"{source}: interaction {number} lacks request.uri or status")
        path = urlsplit(request["uri"]).path
        provider = provider_for(path)
        request_body, response_body = _json_body(request.get("body")), _json_body(response["body"])
        problems: list[str] = []
        if provider is not None:
            shape = PROVIDERS[provider]
            for side, body, keys in (
                ("request", request_body, shape.request_keys),
                ("response", response_body, shape.response_keys),
            ):
                missing = [key for key in keys if not isinstance(body, dict) or key not in body]
                if missing:
                    problems.append(
                        f"{source}: interaction {number}: {provider} {side} body lacks "
                        f"{', '.join(missing)}"
                    )
        recordings.append(
            Recording(
                cassette=source,
                method=str(request.get("method", "")),
                path=path,
                provider=provider,
                request_model=_model(request_body),
                response_model=_model(response_body),
                problems=tuple(problems),
            )
        )
    return recordings


def _model(body: Any) -> str | None:
    model = body.get("model") if isinstance(body, dict) else None
    return model if isinstance(model, str) else None


def read_cassettes(directory: Path, root: Path | None = None) -> list[Recording]:
    recordings: list[Recording] = []
    for path in sorted(directory.rglob("*.json")):
        source = str(path.relative_to(root)) if root is not None else str(path)
        recordings += read_cassette(path.read_text(encoding="utf-8"), source=source)
    return recordings


def frozen_problems(recordings: Iterable[Recording], *, provider: str, model: str) -> list[str]:
    """One line per recording made with another provider or model than the frozen ones.

    The response's model may carry a dated snapshot of the frozen one (gpt-4o-mini-2024-07-18
    for gpt-4o-mini); any other name is a different model version.
    """
    if provider not in PROVIDERS:
        raise CassetteError(
            f"replay provider must be one of: {', '.join(PROVIDERS)}; got {provider!r}"
        )
    problems: list[str] = []
    for recording in recordings:
        where = f"{recording.cassette} ({recording.method} {recording.path})"
        if recording.provider != provider:
            problems.append(
                f"{where}: recorded provider {recording.provider or 'unknown'}, frozen {provider}"
            )
            continue
        versions = {recording.request_model, recording.response_model}
        if any(not _same_model(version, model) for version in versions):
            recorded = " / ".join(sorted(str(version) for version in versions))
            problems.append(
                f"{where}: recorded model {recorded}, frozen {model}; "
                "re-record with RECORD=1 TEST_MODE=GOLDEN or freeze that model"
            )
    return problems


@dataclass(frozen=True, slots=True)
class Version:
    """A provider and the model asked of it."""

    provider: str
    model: str


def recorded_version(recordings: Iterable[Recording]) -> Version:
    """The one provider and model the recordings were made with (the model each request asked
    for); CassetteError naming the cassettes when there are none or they disagree."""
    seen: dict[Version, list[str]] = {}
    for recording in recordings:
        if recording.provider is not None and recording.request_model is not None:
            version = Version(recording.provider, recording.request_model)
            seen.setdefault(version, []).append(recording.cassette)
    if len(seen) == 1:
        return next(iter(seen))
    if not seen:
        raise CassetteError("no recording names a provider and model: nothing to freeze")
    found = "; ".join(
        f"{version.provider} {version.model} ({', '.join(sorted(set(where))[:3])})"
        for version, where in sorted(seen.items(), key=lambda item: item[0].model)
    )
    raise CassetteError(f"the recordings disagree on the version ({found}): pass the frozen one")


def _same_model(recorded: str | None, frozen: str) -> bool:
    if recorded is None:
        return False
    if recorded == frozen:
        return True
    suffix = recorded.removeprefix(frozen + "-")
    return suffix != recorded and suffix.replace("-", "").isdigit()


def owning_tests(cassette_dir: Path, tests_dir: Path) -> list[Path]:
    """The test modules whose cassettes are in ``cassette_dir`` (<module stem>/<test>.json)."""
    stems = {path.parent.name for path in cassette_dir.rglob("*.json")}
    return sorted(path for path in tests_dir.rglob("test_*.py") if path.stem in stems)


def summary(recordings: Sequence[Recording]) -> str:
    cassettes = len({recording.cassette for recording in recordings})
    return f"{len(recordings)} recordings in {cassettes} cassettes"
