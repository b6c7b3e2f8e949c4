"""``websock.Server`` and ``websock.Connection``: the public API over the native module.

How events reach Python: the Rust loops never call Python. They queue events; this module
takes them in batches (one native call returns a list of tuples) and dispatches them to
the handlers, either in ``Server.run()`` (blocking, GIL released while waiting) or, under
asyncio, from a ``loop.add_reader`` callback on the queue's readiness descriptor. The
dispatch loop is the hot path of every message, so it is written flat: one tuple index per
field, no per-event objects, message events tested first.
"""

from __future__ import annotations

import asyncio
import atexit
import inspect
import logging
import threading
import weakref
from collections import deque
from typing import Any, Awaitable, Callable, Iterable, Sequence, TypeVar, Union

from . import _websock
from ._errors import ConnectionClosed, ServerClosed, WebSocketError
from ._options import TLS, Accept, Backpressure, Compression, Keepalive, Limits, Reject
from ._websock import Request

__all__ = ["Server", "Connection", "Data"]

log = logging.getLogger("websock")

Data = Union[str, bytes]
"""A message: ``str`` is a text message, ``bytes`` a binary one."""

_MESSAGE = _websock.EV_MESSAGE
_OPEN = _websock.EV_OPEN
_CLOSE = _websock.EV_CLOSE
_DRAIN = _websock.EV_DRAIN
_UPGRADE = _websock.EV_UPGRADE

# Close codes after which `async for message in conn` simply ends (as in `websockets`).
_NORMAL_CLOSE = (1000, 1001, 1005)

OpenHandler = Callable[["Connection"], Any]
MessageHandler = Callable[["Connection", Any], Any]
CloseHandler = Callable[["Connection", int, str], Any]
DrainHandler = Callable[["Connection"], Any]
UpgradeHandler = Callable[[Request], Any]
ConnectionHandler = Callable[["Connection"], Awaitable[Any]]

OpenT = TypeVar("OpenT", bound=OpenHandler)
MessageT = TypeVar("MessageT", bound=MessageHandler)
CloseT = TypeVar("CloseT", bound=CloseHandler)
DrainT = TypeVar("DrainT", bound=DrainHandler)
UpgradeT = TypeVar("UpgradeT", bound=UpgradeHandler)

# Servers still running at interpreter exit are shut down gracefully (clients see 1001).
_live: "weakref.WeakSet[Server]" = weakref.WeakSet()


@atexit.register
def _shutdown_all() -> None:
    for server in list(_live):
        native = server._native
        if native is not None and not native.closing:
            native.begin_shutdown(0.5)
            native.wait_stopped(2.0)


class Connection:
    """One WebSocket connection. Created by the server when it opens; valid for sends
    until its close event. ``send``/``close``/``tag`` work from any thread."""

    __slots__ = ("id", "request", "data", "server", "_n", "_inbox", "_waiter", "_closed")

    def __init__(self, server: Server, conn_id: int, request: Request) -> None:
        self.id: int = conn_id
        self.request: Request = request
        #: Free for the application (an upgrade hook's ``Accept(data=...)`` lands here).
        self.data: Any = None
        self.server: Server = server
        self._n: _websock.NativeServer = server._require_native()
        self._inbox: deque[Data] | None = None
        self._waiter: asyncio.Future[None] | None = None
        self._closed: tuple[int, str, str] | None = None

    def __repr__(self) -> str:
        state = "open" if self._closed is None else f"closed {self._closed[0]}"
        return f"<Connection {self.id} {self.request.path} {state}>"

    # --- any thread ------------------------------------------------------------------
    def send(self, data: Data | bytearray | memoryview) -> None:
        """Queue a message (str: text, bytes-like: binary). Never blocks; raises
        ConnectionClosed once the connection has ended."""
        if self._closed is not None:
            # The core would refuse too (an id is unknown from its close event on); this
            # answers without a native call and with the close code and reason.
            raise ConnectionClosed("connection closed", self._closed[0], self._closed[1])
        self._n.send(self.id, data)

    def close(self, code: int = 1000, reason: str = "") -> None:
        """Start the closing handshake (codes 1000-1003, 1007-1014, 3000-4999)."""
        self._n.close(self.id, code, reason)

    def ping(self, payload: bytes = b"") -> None:
        self._n.ping(self.id, payload)

    def tag(self, tag: str) -> bool:
        """Add a tag (True if it was new). ``server.send_by_tag(tag, ...)`` reaches it."""
        if self._closed is not None:
            raise ConnectionClosed("connection closed", self._closed[0], self._closed[1])
        return self._n.tag(self.id, tag)

    def untag(self, tag: str) -> bool:
        return self._n.untag(self.id, tag)

    @property
    def tags(self) -> list[str]:
        """The connection's tags in the order they were added."""
        return self._n.tags(self.id)

    @property
    def buffered_amount(self) -> int:
        """Bytes queued for this connection and not yet handed to the kernel."""
        return self._n.buffered_amount(self.id)

    @property
    def open(self) -> bool:
        return self._closed is None and self._n.is_live(self.id)

    @property
    def close_code(self) -> int | None:
        return None if self._closed is None else self._closed[0]

    @property
    def close_reason(self) -> str | None:
        return None if self._closed is None else self._closed[1]

    @property
    def close_kind(self) -> str | None:
        """Why it ended: peer, local, abnormal, timeout, protocol_error, slow_consumer, shutdown."""
        return None if self._closed is None else self._closed[2]

    @property
    def subprotocol(self) -> str | None:
        return self.request.subprotocol

    @property
    def remote_address(self) -> tuple[str, int]:
        return self.request.remote_address

    # --- asyncio (connection handlers given to websock.serve) --------------------------
    async def recv(self) -> Data:
        """The next message. Raises ConnectionClosed once the connection ended and every
        received message was read. Only for connections served by a connection handler."""
        inbox = self._inbox
        if inbox is None:
            raise WebSocketError("recv() and `async for` need a connection handler: websock.serve(handler, ...)")
        while not inbox:
            closed = self._closed
            if closed is not None:
                raise ConnectionClosed(f"connection closed ({closed[0]} {closed[1]})".strip(), closed[0], closed[1])
            loop = self.server._loop
            assert loop is not None
            # One future per wait (a batch), not per message: a non-empty inbox returns at once.
            fut: asyncio.Future[None] = loop.create_future()
            self._waiter = fut
            await fut
        return inbox.popleft()

    def __aiter__(self) -> Connection:
        return self

    async def __anext__(self) -> Data:
        try:
            return await self.recv()
        except ConnectionClosed as e:
            if e.code in _NORMAL_CLOSE:
                raise StopAsyncIteration from None
            raise

    def _wake(self) -> None:
        w = self._waiter
        if w is not None:
            self._waiter = None
            if not w.done():
                w.set_result(None)


class Server:
    """A WebSocket server on the websock Rust core.

    Register handlers with the decorators (``on_open``, ``on_message``, ``on_close``,
    ``on_drain``, ``on_upgrade``) or pass ``handler=`` an object with methods of those
    names. ``run()`` serves on the calling thread; ``websock.serve(...)`` serves under
    asyncio (handlers may then be ``async def``).
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        fd: int | None = None,
        tls: TLS | None = None,
        origins: Sequence[str] = (),
        subprotocols: Sequence[str] = (),
        keep_headers: Sequence[str] | str | None = None,
        loops: int = 0,
        limits: Limits | None = None,
        keepalive: Keepalive | None = None,
        backpressure: Backpressure | None = None,
        compression: Compression | None = None,
        trusted_proxies: Sequence[str] = (),
        backlog: int = 1024,
        reuse_port: bool = False,
        handler: object | None = None,
        batch_size: int = 1024,
    ) -> None:
        if isinstance(keep_headers, str) and keep_headers not in ("all", "*"):
            keep_headers = [keep_headers]
        opts: dict[str, Any] = {
            "host": host,
            "port": port,
            "fd": fd,
            "loops": loops,
            "backlog": backlog,
            "reuse_port": reuse_port,
            "origins": list(origins),
            "subprotocols": list(subprotocols),
            "keep_headers": keep_headers if keep_headers is None or isinstance(keep_headers, str) else list(keep_headers),
            "trusted_proxies": list(trusted_proxies),
            "tls": tls.pem() if tls is not None else None,
        }
        if limits is not None:
            opts.update(
                max_message_size=limits.max_message_size,
                max_frame_size=limits.max_frame_size,
                max_request_head=limits.max_request_head,
                handshake_timeout=limits.handshake_timeout,
                close_timeout=limits.close_timeout,
            )
        if keepalive is not None:
            opts.update(ping_interval=keepalive.ping_interval, idle_timeout=keepalive.idle_timeout)
        if backpressure is not None:
            opts.update(
                max_buffered=backpressure.max_buffered,
                drain_threshold=backpressure.drain_threshold,
                slow_consumer=backpressure.slow_consumer,
                slow_consumer_code=backpressure.close_code,
            )
        if compression is not None and compression.mode is not None:
            opts.update(
                compression_mode=compression.mode,
                compression_window_bits=compression.window_bits,
                compression_threshold=compression.threshold,
                compression_level=compression.level,
                compression_max_dedicated=compression.max_dedicated,
            )
        self._opts = opts
        self._batch = batch_size
        self._native: _websock.NativeServer | None = None
        self._conns: dict[int, Connection] = {}
        self._accepted_data: dict[int, Any] = {}
        self._on_open: OpenHandler | None = None
        self._on_message: MessageHandler | None = None
        self._on_close: CloseHandler | None = None
        self._on_drain: DrainHandler | None = None
        self._on_upgrade: UpgradeHandler | None = None
        self._conn_handler: ConnectionHandler | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._dispatcher: int | None = None  # thread ident of run(), when running
        self._lock = threading.Lock()
        self._done = threading.Event()
        self._done_fut: asyncio.Future[None] | None = None
        if handler is not None:
            for name in ("on_open", "on_message", "on_close", "on_drain", "on_upgrade"):
                fn = getattr(handler, name, None)
                if fn is not None:
                    setattr(self, "_" + name, fn)

    # --- handler registration -----------------------------------------------------------
    def on_open(self, fn: OpenT) -> OpenT:
        """``fn(conn)``: the connection is open (tag it, greet it ...)."""
        self._on_open = fn
        return fn

    def on_message(self, fn: MessageT) -> MessageT:
        """``fn(conn, data)``: a whole message; ``str`` for text, ``bytes`` for binary."""
        self._on_message = fn
        return fn

    def on_close(self, fn: CloseT) -> CloseT:
        """``fn(conn, code, reason)``: exactly once per opened connection; ``conn.close_kind`` says why."""
        self._on_close = fn
        return fn

    def on_drain(self, fn: DrainT) -> DrainT:
        """``fn(conn)``: the outbound queue fell back under the drain threshold."""
        self._on_drain = fn
        return fn

    def on_upgrade(self, fn: UpgradeT) -> UpgradeT:
        """``fn(request)`` decides an upgrade before it happens: return None/True or an
        ``Accept`` to accept, False or a ``Reject`` to refuse. Register before start."""
        if self._native is not None:
            raise WebSocketError("register the upgrade hook before the server starts")
        self._on_upgrade = fn
        return fn

    # --- lifecycle ----------------------------------------------------------------------
    def _require_native(self) -> _websock.NativeServer:
        n = self._native
        if n is None:
            raise ServerClosed("the server is not started (call start(), run() or use websock.serve)")
        return n

    def start(self) -> Server:
        """Bind and start the Rust loops (idempotent). Events queue until dispatched by
        ``run()``, asyncio, or ``shutdown()``."""
        with self._lock:
            if self._native is None:
                self._native = _websock.NativeServer(self._opts, self._on_upgrade is not None)
                _live.add(self)
        return self

    @property
    def address(self) -> tuple[str, int]:
        """``(host, port)`` actually bound (after start)."""
        return self._require_native().address

    @property
    def port(self) -> int:
        return self._require_native().address[1]

    @property
    def connections(self) -> dict[int, Connection]:
        """Open connections by id (read it on the dispatching thread)."""
        return self._conns

    def run(self) -> None:
        """Serve on this thread until the server shuts down (``stop()``/``shutdown()``
        from any thread, or Ctrl-C). Handlers run here, in batches; the GIL is released
        while waiting for events. The core hands over a loop's events once per loop turn,
        so one wake-up of this thread carries a whole turn's events."""
        native = self.start()._require_native()
        if self._loop is not None:
            raise WebSocketError("this server is driven by asyncio")
        if self._done.is_set():
            return  # already shut down and every event delivered
        self._dispatcher = threading.get_ident()
        next_batch = native.next_batch
        dispatch = self._dispatch
        size = self._batch
        try:
            while True:
                try:
                    if dispatch(next_batch(size, None)):
                        break
                except KeyboardInterrupt:
                    # Ctrl-C: shut down gracefully and keep dispatching the close events.
                    native.begin_shutdown(1.0)
        finally:
            self._dispatcher = None
        native.wait_stopped(5.0)

    def stop(self, deadline: float = 5.0) -> None:
        """Begin a graceful shutdown and return at once (any thread)."""
        if self._native is not None:
            self._native.begin_shutdown(deadline)
        else:
            self._done.set()

    def shutdown(self, deadline: float = 5.0) -> None:
        """Graceful shutdown from any thread: stop accepting, close every connection with
        1001, let queued data drain, force-close after ``deadline`` seconds. Waits until
        every close event was handled, except when called from the dispatching thread
        (a handler), where it only begins."""
        native = self._native
        if native is None:
            self._done.set()
            return
        native.begin_shutdown(deadline)
        me = threading.get_ident()
        if self._dispatcher == me or (self._loop is not None and self._loop_thread == me):
            return
        if self._dispatcher is None and self._loop is None:
            # Nobody dispatches: deliver the remaining events here.
            while not self._dispatch(native.next_batch(self._batch, None)):
                pass
        else:
            self._done.wait(deadline + 10.0)
        native.wait_stopped(deadline + 10.0)

    def __enter__(self) -> Server:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.shutdown()

    # --- any-thread operations ----------------------------------------------------------
    def send_by_tag(self, tag: str, data: Data | bytearray | memoryview) -> int:
        """Send to every connection with the tag (frame encoded once); returns how many."""
        return self._require_native().send_by_tag(tag, data)

    def broadcast(self, data: Data | bytearray | memoryview) -> int:
        """Send to every open connection; returns how many were open."""
        return self._require_native().broadcast(data)

    def close_by_tag(self, tag: str, code: int = 1000, reason: str = "") -> int:
        return self._require_native().close_by_tag(tag, code, reason)

    def count_by_tag(self, tag: str) -> int:
        return self._require_native().count_by_tag(tag)

    def send(self, conn_id: int, data: Data | bytearray | memoryview) -> None:
        """Send to a connection by id (ids are plain ints, handy across threads)."""
        self._require_native().send(conn_id, data)

    def close(self, conn_id: int, code: int = 1000, reason: str = "") -> None:
        self._require_native().close(conn_id, code, reason)

    def stats(self) -> dict[str, Any]:
        """Counters: ``{"total": {...}, "loops": [...]}`` (connections, messages_in, ...)."""
        return self._require_native().stats()

    # --- dispatch (the hot path) --------------------------------------------------------
    def _dispatch(self, batch: list[tuple[Any, ...]]) -> bool:
        """Deliver one batch; True once the shutdown event was seen."""
        conns = self._conns
        on_message = self._on_message
        for ev in batch:
            kind = ev[0]
            if kind == _MESSAGE:
                conn = conns.get(ev[1])
                if conn is None:
                    continue
                inbox = conn._inbox
                if inbox is not None:
                    inbox.append(ev[2])
                    if conn._waiter is not None:
                        conn._wake()
                elif on_message is not None:
                    try:
                        r = on_message(conn, ev[2])
                        if r is not None:
                            self._spawn(r)
                    except Exception:
                        log.exception("on_message handler failed")
            elif kind == _OPEN:
                self._opened(ev[1], ev[2])
            elif kind == _CLOSE:
                self._closed(ev[1], ev[2], ev[3], ev[4])
            elif kind == _DRAIN:
                conn = conns.get(ev[1])
                if conn is not None and self._on_drain is not None:
                    self._call(self._on_drain, conn)
            elif kind == _UPGRADE:
                self._upgrade(ev[1], ev[2])
            else:
                self._finished()
                return True
        return False

    def _call(self, fn: Callable[..., Any], *args: Any) -> None:
        try:
            r = fn(*args)
            if r is not None:
                self._spawn(r)
        except Exception:
            log.exception("handler %r failed", getattr(fn, "__name__", fn))

    def _spawn(self, r: Any) -> asyncio.Task[Any] | None:
        """Run what an `async def` handler returned as a task on the server's loop."""
        if not inspect.isawaitable(r):
            return None
        loop = self._loop
        if loop is None:
            if inspect.iscoroutine(r):
                r.close()
            log.error("async handlers need asyncio: serve with `async with websock.serve(...)`")
            return None
        task: asyncio.Task[Any] = loop.create_task(_awaited(r))
        self._tasks.add(task)
        task.add_done_callback(self._task_done)
        return task

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("async handler failed", exc_info=task.exception())

    def _opened(self, conn_id: int, request: Request) -> None:
        conn = Connection(self, conn_id, request)
        if self._accepted_data:
            conn.data = self._accepted_data.pop(conn_id, None)
        if self._conn_handler is not None:
            conn._inbox = deque()
        self._conns[conn_id] = conn
        if self._on_open is not None:
            self._call(self._on_open, conn)
        if self._conn_handler is not None:
            self._spawn(self._serve_connection(self._conn_handler, conn))

    async def _serve_connection(self, handler: ConnectionHandler, conn: Connection) -> None:
        # websockets semantics: the connection closes when its handler returns.
        try:
            await handler(conn)
        except ConnectionClosed:
            pass
        except Exception:
            log.exception("connection handler failed")
            _quiet_close(conn, 1011, "internal error")
            return
        _quiet_close(conn, 1000, "")

    def _closed(self, conn_id: int, code: int, reason: str, kind: str) -> None:
        conn = self._conns.pop(conn_id, None)
        if conn is None:
            return
        conn._closed = (code, reason, kind)
        if conn._waiter is not None:
            conn._wake()
        if self._on_close is not None:
            self._call(self._on_close, conn, code, reason)

    def _upgrade(self, conn_id: int, request: Request) -> None:
        hook = self._on_upgrade
        try:
            decision = hook(request) if hook is not None else None
        except Exception:
            log.exception("upgrade hook failed")
            decision = Reject(500, b"upgrade hook failed\n")
        if inspect.isawaitable(decision):
            self._spawn(self._upgrade_later(conn_id, decision))
        else:
            self._resolve(conn_id, decision)

    async def _upgrade_later(self, conn_id: int, pending: Awaitable[Any]) -> None:
        try:
            decision = await pending
        except Exception:
            log.exception("upgrade hook failed")
            decision = Reject(500, b"upgrade hook failed\n")
        self._resolve(conn_id, decision)

    def _resolve(self, conn_id: int, decision: Any) -> None:
        native = self._require_native()
        try:
            if decision is None or decision is True:
                native.accept_upgrade(conn_id)
            elif isinstance(decision, Accept):
                if decision.data is not None:
                    self._accepted_data[conn_id] = decision.data
                native.accept_upgrade(conn_id, decision.subprotocol, list(decision.headers))
            elif decision is False:
                native.reject_upgrade(conn_id, 403, b"forbidden\n")
            elif isinstance(decision, Reject):
                body = decision.body.encode() if isinstance(decision.body, str) else decision.body
                native.reject_upgrade(conn_id, decision.status, body, list(decision.headers))
            else:
                log.error("upgrade hook returned %r; rejecting", decision)
                native.reject_upgrade(conn_id, 500, b"")
        except ConnectionClosed:
            # The client left (or the handshake timed out) while the hook decided.
            self._accepted_data.pop(conn_id, None)

    def _finished(self) -> None:
        for conn in self._conns.values():
            if conn._closed is None:
                conn._closed = (1006, "", "shutdown")
            conn._wake()
        self._conns.clear()
        self._accepted_data.clear()
        loop = self._loop
        if loop is not None:
            loop.remove_reader(self._require_native().fd())
            if self._done_fut is not None and not self._done_fut.done():
                self._done_fut.set_result(None)
        self._done.set()

    # --- asyncio ------------------------------------------------------------------------
    _loop_thread: int | None = None

    def _attach(self, loop: asyncio.AbstractEventLoop) -> None:
        native = self.start()._require_native()
        if self._dispatcher is not None:
            raise WebSocketError("this server is already served by run()")
        self._loop = loop
        self._loop_thread = threading.get_ident()
        self._done_fut = loop.create_future()
        drain = native.drain
        dispatch = self._dispatch
        size = self._batch

        def readable() -> None:
            dispatch(drain(size))

        loop.add_reader(native.fd(), readable)

    async def wait_closed(self) -> None:
        """(asyncio) Wait until the server has shut down and every close was handled."""
        fut = self._done_fut
        if fut is None:
            raise WebSocketError("the server is not served by asyncio")
        await asyncio.shield(fut)

    async def aclose(self, deadline: float = 5.0) -> None:
        """(asyncio) Graceful shutdown: close every connection with 1001 and wait."""
        self.stop(deadline)
        if self._done_fut is not None:
            await self.wait_closed()
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=deadline)

    async def serve_forever(self) -> None:
        await self.wait_closed()


async def _awaited(r: Awaitable[Any]) -> Any:
    return await r


def _quiet_close(conn: Connection, code: int, reason: str) -> None:
    if conn._closed is None:
        try:
            conn.close(code, reason)
        except WebSocketError:
            pass

