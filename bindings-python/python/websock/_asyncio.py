"""``websock.serve``: the asyncio entry point, shaped like ``websockets.serve``.

``async with websock.serve(handler, host, port, ...) as server`` starts the Rust loops and
registers the event queue's descriptor with ``loop.add_reader``; each readable callback
drains a whole batch. ``handler`` (optional) is ``async def handler(conn)``, run as one
task per connection, in which ``async for message in conn`` reads messages (no future per
message: a future is made only when the handler waits on an empty inbox).
"""

from __future__ import annotations

import asyncio
from typing import Any, Generator

from ._server import ConnectionHandler, Server

__all__ = ["serve"]


class serve:
    """Start a server on the running asyncio loop. Use as ``async with`` (shut down
    gracefully on exit) or ``server = await serve(...)``."""

    def __init__(self, handler: ConnectionHandler | None = None, host: str = "127.0.0.1", port: int = 0, **options: Any) -> None:
        self.server = Server(host, port, **options)
        self.server._conn_handler = handler

    async def _start(self) -> Server:
        self.server._attach(asyncio.get_running_loop())
        return self.server

    def __await__(self) -> Generator[Any, None, Server]:
        return self._start().__await__()

    async def __aenter__(self) -> Server:
        return await self._start()

    async def __aexit__(self, *exc: object) -> None:
        await self.server.aclose()
