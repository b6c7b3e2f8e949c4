"""websock: a fast WebSocket server (RFC 6455) for Python on a Rust core.

Threads::

    server = websock.Server("0.0.0.0", 8080)

    @server.on_message
    def echo(conn: websock.Connection, data: websock.Data) -> None:
        conn.send(data)

    server.run()        # stop()/shutdown() from any thread

asyncio::

    async def handler(conn: websock.Connection) -> None:
        async for message in conn:
            conn.send(message)

    async with websock.serve(handler, "0.0.0.0", 8080) as server:
        await server.serve_forever()

Tags: ``conn.tag("room:1")`` then ``server.send_by_tag("room:1", data)`` from any thread.
"""

from __future__ import annotations

from ._asyncio import serve
from ._errors import (
    ConnectionClosed,
    InvalidArgument,
    ServerClosed,
    TLSError,
    WebSocketError,
    WebSocketOSError,
)
from ._options import TLS, Accept, Backpressure, Compression, Keepalive, Limits, Reject
from ._server import Connection, Data, Server
from ._websock import Request

__all__ = [
    "Server",
    "Connection",
    "Request",
    "Data",
    "serve",
    "TLS",
    "Limits",
    "Keepalive",
    "Backpressure",
    "Compression",
    "Accept",
    "Reject",
    "WebSocketError",
    "ConnectionClosed",
    "ServerClosed",
    "InvalidArgument",
    "TLSError",
    "WebSocketOSError",
]

__version__ = "0.1.0"
