"""One connection through the in-process fault proxy: both directions, each through its toxics.

As in Toxiproxy: each direction of a connection reads chunks as they arrive (stamped, so latency
counts from arrival and does not throttle throughput) and passes them through its stream's
toxics in the order they were added; toxicity is decided once per connection and toxic; a toxic
added or removed acts on open connections too; disabling closes the listener (new connections
are refused) and cuts open connections; reset removes toxics and enables, keeping connections.
Where Toxiproxy leaves it open, this proxy resets both sides on reset_peer, so the client and the
dependency both see the connection reset.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import socket
import struct
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass

from testkit.chaos.toxics import (
    Stream,
    Toxic,
    applies,
    bandwidth_pieces,
    latency_delay,
    limit_data_allowance,
    slice_sizes,
)

READ_SIZE = 64 * 1024
# Chunks read but not yet through the toxics, per direction (Toxiproxy buffers likewise).
QUEUE_CHUNKS = 32
# How long a normal close may take to flush what is buffered before the connection is cut.
CLOSE_TIMEOUT_S = 10.0


@dataclass(frozen=True, slots=True)
class ActiveToxic:
    """A toxic in force, numbered so a toxic re-added under the same name is a new one."""

    toxic: Toxic
    serial: int


class CloseConnection(Exception):
    """A toxic ends the connection with a normal close (FIN)."""


class ResetConnection(Exception):
    """A toxic ends the connection with a reset (RST)."""


def abort(writer: asyncio.StreamWriter, *, reset: bool = False) -> None:
    """Close now, unsent data dropped; with reset, the peer sees RST (connection reset)."""
    if reset:
        sock = writer.get_extra_info("socket")
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


@dataclass(slots=True)
class _Chunk:
    data: bytes
    arrival: float  # loop time it was read: latency counts from here, as in Toxiproxy


class Connection:
    """One client connection and its upstream one: two directions, each through its toxics."""

    def __init__(
        self,
        client: tuple[asyncio.StreamReader, asyncio.StreamWriter],
        upstream: tuple[asyncio.StreamReader, asyncio.StreamWriter],
        toxics: Mapping[str, ActiveToxic],
        rng: random.Random,
    ) -> None:
        self._toxics = toxics  # the proxy's, live: a toxic added later acts here too
        self._rng = rng
        self._client = client
        self._upstream = upstream
        self._decisions: dict[int, bool] = {}  # toxic serial -> acts on this connection
        self._transmitted: dict[int, int] = {}  # limit_data's count, per toxic serial
        self._timers: dict[int, asyncio.Task[None]] = {}
        self._runner: asyncio.Task[None] | None = None

    async def run(self) -> None:
        """Pipe both ways until both ends closed, a toxic ends it, or the task is cancelled."""
        self._runner = asyncio.current_task()
        for active in self._toxics.values():
            self.toxic_added(active)
        # Cancelled (disabled, closed, a timeout toxic's time is up): cut without flushing.
        ending = "cut"
        try:
            try:
                async with asyncio.TaskGroup() as group:
                    group.create_task(self._pipe("upstream", self._client[0], self._upstream[1]))
                    group.create_task(self._pipe("downstream", self._upstream[0], self._client[1]))
            except* ResetConnection:
                ending = "reset"
            except* (CloseConnection, OSError):
                pass
            if ending != "reset":
                ending = "close"
        finally:
            for timer in self._timers.values():
                timer.cancel()
            if ending == "close":
                await asyncio.gather(_close(self._client[1]), _close(self._upstream[1]))
            else:
                abort(self._client[1], reset=ending == "reset")
                abort(self._upstream[1], reset=ending == "reset")

    def toxic_added(self, active: ActiveToxic) -> None:
        toxic = active.toxic
        if toxic.kind == "timeout" and toxic.attribute("timeout") > 0 and self._acts(active):
            self._timers[active.serial] = asyncio.get_running_loop().create_task(
                self._close_after(toxic.attribute("timeout") / 1000)
            )

    def toxic_removed(self, active: ActiveToxic) -> None:
        timer = self._timers.pop(active.serial, None)
        if timer is not None:
            timer.cancel()

    async def _close_after(self, seconds: float) -> None:
        await asyncio.sleep(seconds)
        if self._runner is not None:
            self._runner.cancel()

    def _chain(self, stream: Stream) -> list[ActiveToxic]:
        return [active for active in self._toxics.values() if active.toxic.stream == stream]

    def _acts(self, active: ActiveToxic) -> bool:
        if active.serial not in self._decisions:
            self._decisions[active.serial] = applies(active.toxic.toxicity, self._rng)
        return self._decisions[active.serial]

    async def _pipe(
        self, stream: Stream, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        """Read chunks as they come (stamped), pass them through the toxics in order."""
        queue: asyncio.Queue[_Chunk | OSError | None] = asyncio.Queue(QUEUE_CHUNKS)
        loop = asyncio.get_running_loop()

        async def read() -> None:
            try:
                while data := await reader.read(READ_SIZE):
                    await queue.put(_Chunk(data, loop.time()))
            except OSError as error:  # e.g. the peer reset: the connection ends with it
                await queue.put(error)
            else:
                await queue.put(None)  # end of stream

        reading = loop.create_task(read())
        try:
            while (chunk := await queue.get()) is not None:
                if isinstance(chunk, OSError):
                    raise chunk
                chain = [active for active in self._chain(stream) if self._acts(active)]
                await self._through(chain, chunk.data, chunk.arrival, writer)
            for active in self._chain(stream):
                if active.toxic.kind == "slow_close" and self._acts(active):
                    await asyncio.sleep(active.toxic.attribute("delay") / 1000)
            if writer.can_write_eof() and not writer.is_closing():
                writer.write_eof()
        finally:
            reading.cancel()
            with contextlib.suppress(asyncio.CancelledError, OSError):
                await reading

    async def _through(
        self, chain: list[ActiveToxic], data: bytes, arrival: float, writer: asyncio.StreamWriter
    ) -> None:
        """One chunk through the toxics chain[0], chain[1], ... then out to the writer."""
        if not chain:
            writer.write(data)
            await writer.drain()
            return
        active, rest = chain[0], chain[1:]
        toxic = active.toxic

        async def onward(piece: bytes) -> None:
            await self._through(rest, piece, arrival, writer)

        await _TOXIC_STEPS[toxic.kind](self, active, data, arrival, onward)

    async def _latency(
        self, active: ActiveToxic, data: bytes, arrival: float, onward: _Onward
    ) -> None:
        due = arrival + latency_delay(active.toxic, self._rng)
        await asyncio.sleep(max(due - asyncio.get_running_loop().time(), 0))
        await onward(data)

    async def _bandwidth(
        self, active: ActiveToxic, data: bytes, arrival: float, onward: _Onward
    ) -> None:
        offset = 0
        for size, wait in bandwidth_pieces(len(data), active.toxic.attribute("rate")):
            await asyncio.sleep(wait)
            await onward(data[offset : offset + size])
            offset += size

    async def _slicer(
        self, active: ActiveToxic, data: bytes, arrival: float, onward: _Onward
    ) -> None:
        toxic = active.toxic
        sizes = slice_sizes(
            len(data),
            toxic.attribute("average_size"),
            toxic.attribute("size_variation"),
            self._rng,
        )
        offset = 0
        for index, size in enumerate(sizes):
            if index:
                await asyncio.sleep(toxic.attribute("delay") / 1_000_000)
            await onward(data[offset : offset + size])
            offset += size

    async def _limit_data(
        self, active: ActiveToxic, data: bytes, arrival: float, onward: _Onward
    ) -> None:
        transmitted = self._transmitted.get(active.serial, 0)
        passing, exhausted = limit_data_allowance(
            active.toxic.attribute("bytes"), transmitted, len(data)
        )
        self._transmitted[active.serial] = transmitted + passing
        if passing:
            await onward(data[:passing])
        if exhausted:
            raise CloseConnection

    async def _timeout(
        self, active: ActiveToxic, data: bytes, arrival: float, onward: _Onward
    ) -> None:
        """Data is dropped; the close after `timeout` ms is the timer's (see toxic_added)."""

    async def _reset_peer(
        self, active: ActiveToxic, data: bytes, arrival: float, onward: _Onward
    ) -> None:
        await asyncio.sleep(active.toxic.attribute("timeout") / 1000)
        raise ResetConnection

    async def _slow_close(
        self, active: ActiveToxic, data: bytes, arrival: float, onward: _Onward
    ) -> None:
        await onward(data)  # acts at the close (see _pipe)


_Onward = Callable[[bytes], Awaitable[None]]
_Step = Callable[[Connection, ActiveToxic, bytes, float, _Onward], Awaitable[None]]
_TOXIC_STEPS: dict[str, _Step] = {
    "latency": Connection._latency,
    "bandwidth": Connection._bandwidth,
    "slicer": Connection._slicer,
    "limit_data": Connection._limit_data,
    "timeout": Connection._timeout,
    "reset_peer": Connection._reset_peer,
    "slow_close": Connection._slow_close,
}


async def _close(writer: asyncio.StreamWriter) -> None:
    """Close after flushing what is buffered; a peer that does not read gets cut instead."""
    writer.close()
    try:
        await asyncio.wait_for(writer.wait_closed(), CLOSE_TIMEOUT_S)
    except (OSError, TimeoutError):
        writer.transport.abort()
    except asyncio.CancelledError:
        writer.transport.abort()
        raise
