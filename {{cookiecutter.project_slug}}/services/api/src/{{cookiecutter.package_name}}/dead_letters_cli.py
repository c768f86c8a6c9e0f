"""Show and re-drive dead letters: ``python -m <package>.dead_letters_cli list|replay``.

``make dlq-list`` and ``make dlq-replay`` run it. It reads APP_DATABASE_URL like the service
and needs nothing else (no NATS): the letters and the projection they feed share a database.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import NoReturn, TextIO

from pydantic import ValidationError
from sqlalchemy.exc import SQLAlchemyError

from {{ cookiecutter.package_name }} import dead_letters
from {{ cookiecutter.package_name }}.db import create_engine, create_sessionmaker
from {{ cookiecutter.package_name }}.models import DeadLetter
from {{ cookiecutter.package_name }}.projection_consumer import REPLAY_HANDLERS
from {{ cookiecutter.package_name }}.settings import ENV_PREFIX, Settings

PROG = "dead_letters_cli"
DATA_PREVIEW_CHARS = 160


@dataclass(frozen=True, slots=True)
class Request:
    command: str
    ids: tuple[int, ...] | None
    include_replayed: bool
    limit: int


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        # One line naming the problem, instead of the usage block and the message.
        self.exit(2, f"{self.prog}: {message} (see --help)\n")


def _letter_id(raw: str) -> int:
    if not raw.isdigit() or int(raw) < 1:
        raise argparse.ArgumentTypeError(f"must be a dead letter id (1 or more), got {raw!r}")
    return int(raw)


def _limit(raw: str) -> int:
    if not raw.isdigit() or int(raw) < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {raw!r}")
    return int(raw)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog=PROG, description="Show and re-drive the consumers' dead letters.")
    commands = parser.add_subparsers(dest="command", metavar="{list,replay}", required=True)
    listing = commands.add_parser("list", help="dead letters, oldest first (pending ones)")
    listing.add_argument("--all", action="store_true", help="include the replayed ones")
    listing.add_argument("--limit", type=_limit, default=100, help="at most this many (100)")
    replay = commands.add_parser("replay", help="re-drive pending letters through their handler")
    replay.add_argument(
        "--id", dest="ids", type=_letter_id, action="append", help="only this letter (repeatable)"
    )
    return parser


def parse_request(argv: Sequence[str]) -> Request:
    arguments = build_parser().parse_args(argv)
    return Request(
        command=arguments.command,
        ids=tuple(arguments.ids) if getattr(arguments, "ids", None) else None,
        include_replayed=getattr(arguments, "all", False),
        limit=getattr(arguments, "limit", 100),
    )


def format_letter(letter: DeadLetter) -> str:
    """One letter: a summary line, then its headers, error and the start of its body."""
    state = f"replayed {letter.replayed_at:%Y-%m-%d %H:%M:%S}" if letter.replayed_at else "pending"
    data = letter.data.decode("utf-8", errors="replace")
    if len(data) > DATA_PREVIEW_CHARS:
        data = data[:DATA_PREVIEW_CHARS] + "..."
    lines = [
        f"#{letter.id} {state} consumer={letter.consumer} attempts={letter.attempts} "
        f"dead-lettered={letter.dead_lettered_at:%Y-%m-%d %H:%M:%S}",
        f"    subject: {letter.subject} "
        f"(stream {letter.stream}, sequence {letter.stream_sequence})",
        f"    headers: {dict(sorted(letter.headers.items()))}",
        f"    error: {letter.error}",
        f"    data: {data}",
    ]
    if letter.replay_error:
        lines.append(f"    last replay error: {letter.replay_error}")
    return "\n".join(lines)


async def run(request: Request, settings: Settings, out: TextIO) -> int:
    engine = create_engine(settings)
    sessionmaker = create_sessionmaker(engine)
    try:
        if request.command == "list":
            async with sessionmaker() as session:
                found = await dead_letters.letters(
                    session, include_replayed=request.include_replayed, limit=request.limit
                )
            for letter in found:
                print(format_letter(letter), file=out)
            kind = "dead letters" if request.include_replayed else "pending dead letters"
            print(f"{len(found)} {kind}", file=out)
            return 0
        if request.ids is not None:
            async with sessionmaker() as session:
                found = await dead_letters.letters(session, ids=request.ids)
            pending = {letter.id for letter in found}
            missing = sorted(set(request.ids) - pending)
            if missing:
                print(
                    f"{PROG}: no pending dead letter with id {', '.join(map(str, missing))} "
                    f"(see `{PROG} list --all`)",
                    file=sys.stderr,
                )
                return 1
        results = await dead_letters.replay(sessionmaker, handlers=REPLAY_HANDLERS, ids=request.ids)
    finally:
        await engine.dispose()
    for result in results:
        detail = f": {result.error}" if result.error else ""
        print(f"#{result.letter_id} {result.outcome}{detail}", file=out)
    counts = {
        outcome: sum(result.outcome is outcome for result in results)
        for outcome in dead_letters.ReplayOutcome
    }
    summary = ", ".join(f"{count} {outcome}" for outcome, count in counts.items())
    print(f"replayed {len(results)} dead letters: {summary}", file=out)
    return 1 if counts[dead_letters.ReplayOutcome.FAILED] else 0


def main(argv: Sequence[str] | None = None, out: TextIO = sys.stdout) -> int:
    request = parse_request(sys.argv[1:] if argv is None else argv)
    try:
        settings = Settings()
    except ValidationError as exc:
        first = exc.errors()[0]
        where = f"{ENV_PREFIX}{first['loc'][0]}".upper() if first["loc"] else "settings"
        print(f"{PROG}: {where}: {first['msg']}", file=sys.stderr)
        return 2
    try:
        return asyncio.run(run(request, settings, out))
    except SQLAlchemyError as exc:
        # The driver's message (exc.orig) without SQLAlchemy's statement and link lines.
        reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
        print(f"{PROG}: database at {ENV_PREFIX}DATABASE_URL failed: {reason}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
