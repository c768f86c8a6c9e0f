"""The fault proxy's API, and its in-process implementation: asyncio on a thread of its own.

Toxiproxy is the standard tool for this, but it cannot run on every machine the tests run on
(no Docker daemon, no Toxiproxy binary in the package registries we install from), so this
module implements its vocabulary in-process: a TCP proxy per dependency, each connection piped
through the toxics with Toxiproxy's semantics (testkit.chaos.toxics holds the arithmetic).
Where a Toxiproxy server is reachable, TOXIPROXY_URL makes the same `Proxy` API drive it
instead (testkit.chaos.toxiproxy), so a suite written against one runs against the other.

Each proxy owns an event loop on a daemon thread; every public method hands its work to that
loop and waits for it, so after `add_toxic` returns the toxic is in force, and after `close`
the thread, the listening socket and every connection are gone.

As in Toxiproxy: each direction of a connection reads chunks as they arrive (stamped, so latency
counts from arrival and does not throttle throughput) and passes them through its stream's
toxics in the order they were added; toxicity is decided once per connection and toxic; a toxic
added or removed acts on open connections too; disabling closes the listener (new connections
are refused) and cuts open connections; reset removes toxics and enables, keeping connections.
Where Toxiproxy leaves it open, this proxy resets both sides on reset_peer, so the client and the
dependency both see the connection reset.
"""

from __future__ import annotations

import abc
import asyncio
import contextlib
import os
import random
import socket
import struct
import threading
from collections.abc import Awaitable, Callable, Coroutine, Iterator
from dataclasses import dataclass
from typing import Any, Self, TypeVar
from urllib.parse import SplitResult, urlsplit, urlunsplit

from testkit.chaos.toxics import (
    Stream,
    Toxic,
    applies,
    bandwidth_pieces,
    latency_delay,
    limit_data_allowance,
    make_toxic,
    slice_sizes,
)

T = TypeVar("T")

# How long a caller waits for the proxy's loop to carry out one request.
CALL_TIMEOUT_S = 10.0
READ_SIZE = 64 * 1024
# Chunks read but not yet through the toxics, per direction (Toxiproxy buffers likewise).
QUEUE_CHUNKS = 32


class Proxy(abc.ABC):
    """A TCP proxy in front of one dependency, with toxics; the API both backends implement."""

    name: str
    upstream: tuple[str, int]

    _listen_host: str
    _listen_port: int

    @property
    def listen_host(self) -> str:
        return self._listen_host

    @property
    def listen_port(self) -> int:
        return self._listen_port

    @property
    @abc.abstractmethod
    def enabled(self) -> bool: ...

    @abc.abstractmethod
    def add_toxic(
        self,
        kind: str,
        *,
        stream: str = "downstream",
        toxicity: float = 1.0,
        name: str | None = None,
        **attributes: int,
    ) -> Toxic:
        """Add a toxic (see testkit.chaos.toxics.KINDS); it acts until removed."""

    @abc.abstractmethod
    def remove_toxic(self, name: str) -> None: ...

    @abc.abstractmethod
    def toxics(self) -> list[Toxic]: ...

    @abc.abstractmethod
    def disable(self) -> None:
        """Refuse new connections and cut the open ones (the dependency is "down")."""

    @abc.abstractmethod
    def enable(self) -> None: ...

    @abc.abstractmethod
    def close(self) -> None: ...

    def reset(self) -> None:
        """Back to a clean pipe: every toxic removed, enabled; open connections are kept."""
        for toxic in self.toxics():
            self.remove_toxic(toxic.name)
        self.enable()

    @property
    def address(self) -> tuple[str, int]:
        return self.listen_host, self.listen_port

    @contextlib.contextmanager
    def toxic(
        self,
        kind: str,
        *,
        stream: str = "downstream",
        toxicity: float = 1.0,
        name: str | None = None,
        **attributes: int,
    ) -> Iterator[Toxic]:
        """The toxic in force for the block: `with proxy.toxic("latency", latency=500): ...`."""
        added = self.add_toxic(kind, stream=stream, toxicity=toxicity, name=name, **attributes)
        try:
            yield added
        finally:
            # The block may have removed it already (reset, remove_toxic): nothing to undo then.
            if any(toxic.name == added.name for toxic in self.toxics()):
                self.remove_toxic(added.name)

    @contextlib.contextmanager
    def down(self) -> Iterator[None]:
        """The dependency unreachable for the block, back up after it."""
        self.disable()
        try:
            yield
        finally:
            self.enable()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        listen = f"{self.listen_host}:{self.listen_port}"
        upstream = f"{self.upstream[0]}:{self.upstream[1]}"
        return f"<{type(self).__name__} {self.name} {listen} -> {upstream}>"


def proxied_url(url: str, proxy: Proxy) -> str:
    """The service URL with its host and port replaced by the proxy's (user, path, query kept)."""
    parts = urlsplit(url)
    if not parts.hostname:
        raise ValueError(f"cannot proxy {url!r}: it has no host:port (Unix socket URLs can't be)")
    userinfo, _, _ = parts.netloc.rpartition("@")
    host = proxy.listen_host
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    netloc = (f"{userinfo}@" if userinfo else "") + f"{host}:{proxy.listen_port}"
    return urlunsplit(SplitResult(parts.scheme, netloc, parts.path, parts.query, parts.fragment))


@dataclass(frozen=True, slots=True)
class _Active:
    """A toxic in force, numbered so a toxic re-added under the same name is a new one."""

    toxic: Toxic
    serial: int


class _CloseConnection(Exception):
    """A toxic ends the connection with a normal close (FIN)."""


class _ResetConnection(Exception):
    """A toxic ends the connection with a reset (RST)."""


class InProcessProxy(Proxy):
    """Toxiproxy's behaviour without Toxiproxy: see the module docstring for why."""

    def __init__(
        self,
        name: str,
        upstream: tuple[str, int],
        *,
        listen_host: str = "127.0.0.1",
        listen_port: int = 0,
        seed: int | None = None,
    ) -> None:
        self.name = name
        self.upstream = upstream
        self._listen_host = listen_host
        self._listen_port = listen_port
        self._rng = random.Random(seed)  # used on the loop thread only
        self._toxics: dict[str, _Active] = {}
        self._serials = 0
        self._connections: set[_Connection] = set()
        self._listener: socket.socket | None = None
        # Accepted sockets whose handler has not started yet: closed by us if it never does.
        self._unclaimed: set[socket.socket] = set()
        self._handlers: set[asyncio.Task[None]] = set()
        self._closed = False
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._run_loop, name=f"testkit-fault-proxy-{name}", daemon=True
        )
        self._thread.start()
        try:
            self._call(self._listen)
        except BaseException:
            self._stop_loop()
            raise

    # --- the public API: each call runs on the proxy's loop and waits for it ---------------

    @property
    def enabled(self) -> bool:
        return self._listener is not None

    def add_toxic(
        self,
        kind: str,
        *,
        stream: str = "downstream",
        toxicity: float = 1.0,
        name: str | None = None,
        **attributes: int,
    ) -> Toxic:
        toxic = make_toxic(kind, stream=stream, toxicity=toxicity, name=name, **attributes)

        async def add() -> None:
            if toxic.name in self._toxics:
                raise ValueError(
                    f"proxy {self.name!r} already has a toxic named {toxic.name!r}; "
                    "pass name= to add another of that kind and stream"
                )
            self._serials += 1
            active = _Active(toxic, self._serials)
            self._toxics[toxic.name] = active
            for connection in self._connections:
                connection.toxic_added(active)

        self._call(add)
        return toxic

    def remove_toxic(self, name: str) -> None:
        async def remove() -> None:
            active = self._toxics.pop(name, None)
            if active is None:
                names = ", ".join(self._toxics) or "none"
                raise ValueError(f"proxy {self.name!r} has no toxic {name!r} (toxics: {names})")
            for connection in self._connections:
                connection.toxic_removed(active)

        self._call(remove)

    def toxics(self) -> list[Toxic]:
        async def snapshot() -> list[Toxic]:
            return [active.toxic for active in self._toxics.values()]

        return self._call(snapshot)

    def disable(self) -> None:
        self._call(self._stop_listening)

    def enable(self) -> None:
        self._call(self._listen)

    def close(self) -> None:
        """Stop listening, cut every connection, end the loop and its thread. Idempotent."""
        if self._closed:
            return
        try:
            self._call(self._shutdown)
        finally:
            self._closed = True
            self._stop_loop()

    # --- the loop side --------------------------------------------------------------------

    def _run_loop(self) -> None:
        asyncio.set_event_loop(self._loop)
        try:
            self._loop.run_forever()
        finally:
            self._loop.run_until_complete(self._loop.shutdown_asyncgens())
            self._loop.close()

    def _stop_loop(self) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=CALL_TIMEOUT_S)

    def _call(self, function: Callable[[], Coroutine[Any, Any, T]]) -> T:
        if self._closed:
            raise RuntimeError(f"fault proxy {self.name!r} is closed")
        future = asyncio.run_coroutine_threadsafe(function(), self._loop)
        return future.result(timeout=CALL_TIMEOUT_S)

    async def _listen(self) -> None:
        if self._listener is not None:
            return
        family = socket.AF_INET6 if ":" in self._listen_host else socket.AF_INET
        try:
            listener = socket.create_server((self._listen_host, self._listen_port), family=family)
        except OSError as error:
            raise RuntimeError(
                f"fault proxy {self.name!r} cannot listen on "
                f"{self._listen_host}:{self._listen_port}: "
                f"{os.strerror(error.errno) if error.errno else error}"
            ) from None
        listener.setblocking(False)
        self._listener = listener
        # Port 0 picks a free port; later enables reuse it so URLs handed out stay valid.
        self._listen_port = listener.getsockname()[1]
        # A plain readiness callback, not a task: stopping it can never lose an accepted socket.
        self._loop.add_reader(listener, self._accept_ready, listener)

    def _accept_ready(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                return  # e.g. out of file descriptors: the client waits for the next round
            client.setblocking(False)
            self._unclaimed.add(client)
            handler = self._loop.create_task(self._serve(client))
            self._handlers.add(handler)
            handler.add_done_callback(self._handlers.discard)

    async def _stop_listening(self) -> None:
        listener, self._listener = self._listener, None
        if listener is not None:
            self._loop.remove_reader(listener)
            listener.close()
        # Toxiproxy cuts the open connections of a disabled proxy: so do we.
        handlers = list(self._handlers)
        for handler in handlers:
            handler.cancel()
        await asyncio.gather(*handlers, return_exceptions=True)
        for client in self._unclaimed:
            client.close()
        self._unclaimed.clear()
        # An aborted transport closes its socket in a callback on the next loop iteration.
        await asyncio.sleep(0)

    async def _shutdown(self) -> None:
        await self._stop_listening()
        current = asyncio.current_task()
        leftovers = [task for task in asyncio.all_tasks() if task is not current]
        for task in leftovers:
            task.cancel()
        await asyncio.gather(*leftovers, return_exceptions=True)
        await asyncio.sleep(0)

    async def _serve(self, client: socket.socket) -> None:
        """One accepted client: connect upstream, then pipe both ways until either side ends."""
        self._unclaimed.discard(client)
        try:
            upstream_reader, upstream = await asyncio.open_connection(*self.upstream)
        except OSError:
            # As Toxiproxy does: the client is accepted, then closed when upstream refuses.
            client.close()
            return
        except asyncio.CancelledError:
            client.close()
            raise
        try:
            client_reader, client_writer = await asyncio.open_connection(sock=client)
        except BaseException:
            # On failure the transport, if it was made, has closed the client socket.
            client.close()
            _abort(upstream)
            raise
        connection = _Connection(self, (client_reader, client_writer), (upstream_reader, upstream))
        self._connections.add(connection)
        try:
            await connection.run()
        finally:
            self._connections.discard(connection)

    def _chain(self, stream: Stream) -> list[_Active]:
        return [active for active in self._toxics.values() if active.toxic.stream == stream]


def _abort(writer: asyncio.StreamWriter, *, reset: bool = False) -> None:
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


class _Connection:
    """One client connection and its upstream one: two directions, each through its toxics."""

    def __init__(
        self,
        proxy: InProcessProxy,
        client: tuple[asyncio.StreamReader, asyncio.StreamWriter],
        upstream: tuple[asyncio.StreamReader, asyncio.StreamWriter],
    ) -> None:
        self._proxy = proxy
        self._client = client
        self._upstream = upstream
        self._decisions: dict[int, bool] = {}  # toxic serial -> acts on this connection
        self._transmitted: dict[int, int] = {}  # limit_data's count, per toxic serial
        self._timers: dict[int, asyncio.Task[None]] = {}
        self._runner: asyncio.Task[None] | None = None

    async def run(self) -> None:
        """Pipe both ways until both ends closed, a toxic ends it, or the task is cancelled."""
        self._runner = asyncio.current_task()
        for active in self._proxy._toxics.values():
            self.toxic_added(active)
        # Cancelled (disabled, closed, a timeout toxic's time is up): cut without flushing.
        ending = "cut"
        try:
            try:
                async with asyncio.TaskGroup() as group:
                    group.create_task(self._pipe("upstream", self._client[0], self._upstream[1]))
                    group.create_task(self._pipe("downstream", self._upstream[0], self._client[1]))
            except* _ResetConnection:
                ending = "reset"
            except* (_CloseConnection, OSError):
                pass
            if ending != "reset":
                ending = "close"
        finally:
            for timer in self._timers.values():
                timer.cancel()
            if ending == "close":
                await asyncio.gather(_close(self._client[1]), _close(self._upstream[1]))
            else:
                _abort(self._client[1], reset=ending == "reset")
                _abort(self._upstream[1], reset=ending == "reset")

    def toxic_added(self, active: _Active) -> None:
        toxic = active.toxic
        if toxic.kind == "timeout" and toxic.attribute("timeout") > 0 and self._acts(active):
            self._timers[active.serial] = asyncio.get_running_loop().create_task(
                self._close_after(toxic.attribute("timeout") / 1000)
            )

    def toxic_removed(self, active: _Active) -> None:
        timer = self._timers.pop(active.serial, None)
        if timer is not None:
            timer.cancel()

    async def _close_after(self, seconds: float) -> None:
        await asyncio.sleep(seconds)
        if self._runner is not None:
            self._runner.cancel()

    def _acts(self, active: _Active) -> bool:
        if active.serial not in self._decisions:
            self._decisions[active.serial] = applies(active.toxic.toxicity, self._proxy._rng)
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
                chain = [active for active in self._proxy._chain(stream) if self._acts(active)]
                await self._through(chain, chunk.data, chunk.arrival, writer)
            for active in self._proxy._chain(stream):
                if active.toxic.kind == "slow_close" and self._acts(active):
                    await asyncio.sleep(active.toxic.attribute("delay") / 1000)
            if writer.can_write_eof() and not writer.is_closing():
                writer.write_eof()
        finally:
            reading.cancel()
            with contextlib.suppress(asyncio.CancelledError, OSError):
                await reading

    async def _through(
        self, chain: list[_Active], data: bytes, arrival: float, writer: asyncio.StreamWriter
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

    async def _latency(self, active: _Active, data: bytes, arrival: float, onward: _Onward) -> None:
        due = arrival + latency_delay(active.toxic, self._proxy._rng)
        await asyncio.sleep(max(due - asyncio.get_running_loop().time(), 0))
        await onward(data)

    async def _bandwidth(
        self, active: _Active, data: bytes, arrival: float, onward: _Onward
    ) -> None:
        offset = 0
        for size, wait in bandwidth_pieces(len(data), active.toxic.attribute("rate")):
            await asyncio.sleep(wait)
            await onward(data[offset : offset + size])
            offset += size

    async def _slicer(self, active: _Active, data: bytes, arrival: float, onward: _Onward) -> None:
        toxic = active.toxic
        sizes = slice_sizes(
            len(data),
            toxic.attribute("average_size"),
            toxic.attribute("size_variation"),
            self._proxy._rng,
        )
        offset = 0
        for index, size in enumerate(sizes):
            if index:
                await asyncio.sleep(toxic.attribute("delay") / 1_000_000)
            await onward(data[offset : offset + size])
            offset += size

    async def _limit_data(
        self, active: _Active, data: bytes, arrival: float, onward: _Onward
    ) -> None:
        transmitted = self._transmitted.get(active.serial, 0)
        passing, exhausted = limit_data_allowance(
            active.toxic.attribute("bytes"), transmitted, len(data)
        )
        self._transmitted[active.serial] = transmitted + passing
        if passing:
            await onward(data[:passing])
        if exhausted:
            raise _CloseConnection

    async def _timeout(self, active: _Active, data: bytes, arrival: float, onward: _Onward) -> None:
        """Data is dropped; the close after `timeout` ms is the timer's (see toxic_added)."""

    async def _reset_peer(
        self, active: _Active, data: bytes, arrival: float, onward: _Onward
    ) -> None:
        await asyncio.sleep(active.toxic.attribute("timeout") / 1000)
        raise _ResetConnection

    async def _slow_close(
        self, active: _Active, data: bytes, arrival: float, onward: _Onward
    ) -> None:
        await onward(data)  # acts at the close (see _pipe)


_Onward = Callable[[bytes], Awaitable[None]]
_Step = Callable[[_Connection, _Active, bytes, float, _Onward], Awaitable[None]]
_TOXIC_STEPS: dict[str, _Step] = {
    "latency": _Connection._latency,
    "bandwidth": _Connection._bandwidth,
    "slicer": _Connection._slicer,
    "limit_data": _Connection._limit_data,
    "timeout": _Connection._timeout,
    "reset_peer": _Connection._reset_peer,
    "slow_close": _Connection._slow_close,
}


async def _close(writer: asyncio.StreamWriter) -> None:
    """Close after flushing what is buffered; a peer that does not read gets cut instead."""
    writer.close()
    try:
        await asyncio.wait_for(writer.wait_closed(), CALL_TIMEOUT_S)
    except (OSError, TimeoutError):
        writer.transport.abort()
    except asyncio.CancelledError:
        writer.transport.abort()
        raise
