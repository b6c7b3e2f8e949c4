"""Bench peer: Python `websockets` (asyncio implementation) with its default compression
(permessage-deflate: server_max_window_bits=12, client_max_window_bits=12, memLevel=5).
Contract: /work/shared/bench/peers/CONTRACT.md. Changed knob: max_size 64 MiB (the
contract's message sizes); compression is left at the library default, which is on.

/echo and / : echo every message (`async for` + `send`)
/sub        : joins the broadcast set
/pub        : every message is sent to all subscribers with websockets.broadcast()
Prints READY when listening (PORT from the environment, host 127.0.0.1).
"""
import asyncio
import os
import signal

from websockets.asyncio.server import broadcast, serve
from websockets.exceptions import ConnectionClosed

SUBS = set()


async def handler(ws):
    try:
        await route(ws)
    except ConnectionClosed:
        pass  # abrupt client close: not worth a traceback in the log


async def route(ws):
    path = ws.request.path.split("?", 1)[0]
    if path == "/sub":
        SUBS.add(ws)
        try:
            await ws.wait_closed()
        finally:
            SUBS.discard(ws)
    elif path == "/pub":
        async for msg in ws:
            broadcast(SUBS, msg)
    else:
        async for msg in ws:
            await ws.send(msg)


async def main():
    port = int(os.environ.get("PORT", "9001"))
    host = os.environ.get("HOST", "127.0.0.1")
    stop = asyncio.get_running_loop().create_future()
    for s in (signal.SIGTERM, signal.SIGINT):
        asyncio.get_running_loop().add_signal_handler(s, stop.set_result, None)
    async with serve(handler, host, port, max_size=64 * 1024 * 1024):
        print("READY", flush=True)
        await stop


if __name__ == "__main__":
    asyncio.run(main())
