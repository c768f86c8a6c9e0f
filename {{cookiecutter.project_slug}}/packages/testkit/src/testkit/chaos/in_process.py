"""The in-process fault proxy: Toxiproxy's behaviour on an asyncio loop of its own.

Each proxy owns an event loop on a daemon thread; every public method hands its work to that
loop and waits for it, so after `add_toxic` returns the toxic is in force, and after `close`
the thread, the listening socket and every connection are gone.
"""

from __future__ import annotations

import asyncio
import os
import random
import socket
import threading
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

from testkit.chaos.connection import ActiveToxic, Connection, abort
from testkit.chaos.proxy import Proxy
from testkit.chaos.toxics import Toxic, make_toxic

T = TypeVar("T")

# How long a caller waits for the proxy's loop to carry out one request.
CALL_TIMEOUT_S = 10.0


class InProcessProxy(Proxy):
    """Toxiproxy's behaviour without Toxiproxy: see testkit.chaos.proxy for why."""

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
        self._toxics: dict[str, ActiveToxic] = {}
        self._serials = 0
        self._connections: set[Connection] = set()
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
            active = ActiveToxic(toxic, self._serials)
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
            abort(upstream)
            raise
        connection = Connection(
            (client_reader, client_writer), (upstream_reader, upstream), self._toxics, self._rng
        )
        self._connections.add(connection)
        try:
            await connection.run()
        finally:
            self._connections.discard(connection)
