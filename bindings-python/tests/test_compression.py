"""permessage-deflate through ``websock.Compression``, against the `websockets` client
(which offers the extension by default): what the server answers, that messages over the
threshold round-trip, and, from the server's own counters, that they crossed the wire
compressed; dedicated contexts, their cap and their memory counter; bad settings."""

from __future__ import annotations

import asyncio
import json
import time

import pytest
from websockets.asyncio.client import connect

import websock
from conftest import run, wait_until

# ~140 KB of JSON-like text: compresses well over 10x.
BIG = json.dumps([{"user": "alice", "room": "lobby", "text": "hello there", "seq": i} for i in range(2000)])


def echo_server(compression: websock.Compression | None) -> websock.Server:
    server = websock.Server(loops=1, compression=compression)

    @server.on_message
    def echo(conn: websock.Connection, data: websock.Data) -> None:
        conn.send(data)

    return server


async def round_trips(url: str) -> tuple[str | None, int]:
    """Echo BIG (text and binary) and a short message; returns the extension answer and
    the payload bytes sent one way."""
    async with connect(url, max_size=None) as ws:
        ext = ws.response.headers.get("Sec-WebSocket-Extensions")
        sent = 0
        for i in range(5):
            msg = BIG + str(i)
            await ws.send(msg)
            assert await ws.recv() == msg
            sent += len(msg)
        await ws.send(BIG.encode())
        assert await ws.recv() == BIG.encode()
        sent += len(BIG)
        await ws.send("hi")  # under the threshold
        assert await ws.recv() == "hi"
        return ext, sent


def test_shared_mode_negotiates_and_compresses_both_ways(serve_thread):
    s = serve_thread(echo_server(websock.Compression("shared")))
    ext, sent = run(round_trips(s.url))
    assert ext is not None and ext.startswith("permessage-deflate"), ext
    assert "server_no_context_takeover" in ext and "client_no_context_takeover" in ext, ext
    wait_until(lambda: s.server.stats()["total"]["messages_in"] >= 7)
    st = s.server.stats()
    total = st["total"]
    assert total["bytes_in"] < sent // 5 and total["bytes_out"] < sent // 5, (sent, total)
    assert st["dedicated_compression"] == 0 and total["compression_bytes"] == 0


def test_compression_is_off_by_default_and_with_mode_none(serve_thread):
    for compression in (None, websock.Compression(mode=None)):
        s = serve_thread(echo_server(compression))
        ext, sent = run(round_trips(s.url))
        assert ext is None, ext
        wait_until(lambda: s.server.stats()["total"]["messages_out"] >= 7)
        total = s.server.stats()["total"]
        assert total["bytes_in"] > sent and total["bytes_out"] > sent, (sent, total)


def test_dedicated_mode_window_cap_and_memory_counter(serve_thread):
    s = serve_thread(echo_server(websock.Compression("dedicated", window_bits=12, max_dedicated=1)))

    async def client() -> tuple[str | None, str | None, int, int]:
        async with connect(s.url, max_size=None) as first:
            ext1 = first.response.headers.get("Sec-WebSocket-Extensions")
            await first.send(BIG)
            assert await first.recv() == BIG
            # Over the cap of 1: the second connection is negotiated as shared.
            async with connect(s.url, max_size=None) as second:
                ext2 = second.response.headers.get("Sec-WebSocket-Extensions")
                await second.send(BIG)
                assert await second.recv() == BIG
                dedicated = s.server.stats()["dedicated_compression"]
            # The loop refreshes compression_bytes on its timer sweep (about every second).
            end = time.monotonic() + 5
            while s.server.stats()["total"]["compression_bytes"] == 0 and time.monotonic() < end:
                await asyncio.sleep(0.05)
            held = s.server.stats()["total"]["compression_bytes"]
            return ext1, ext2, dedicated, held

    ext1, ext2, dedicated, held = run(client())
    assert ext1 is not None and "server_max_window_bits=12" in ext1, ext1
    assert ext2 is not None and "server_no_context_takeover" in ext2, ext2
    assert dedicated == 1
    # The window was held while connected (at most both 4 KiB windows) and goes with it.
    assert 0 < held <= 2 * 4096, held
    wait_until(lambda: s.server.stats()["dedicated_compression"] == 0)


def test_threshold_and_level(serve_thread):
    msg = BIG[:3000]
    for threshold, compressed in ((4096, False), (1024, True)):
        s = serve_thread(echo_server(websock.Compression("shared", threshold=threshold, level=1)))

        async def client() -> str:
            async with connect(s.url) as ws:
                await ws.send(msg)
                return str(await ws.recv())

        assert run(client()) == msg
        wait_until(lambda: s.server.stats()["total"]["messages_out"] >= 1)
        out = s.server.stats()["total"]["bytes_out"]
        if compressed:
            assert out < len(msg) // 3, out
        else:
            assert out >= len(msg), out


def test_compression_under_asyncio():
    async def main() -> tuple[str | None, str]:
        async def handler(conn: websock.Connection) -> None:
            async for message in conn:
                conn.send(message)

        async with websock.serve(handler, loops=1, compression=websock.Compression()) as server:
            async with connect(f"ws://127.0.0.1:{server.port}", max_size=None) as ws:
                await ws.send(BIG)
                return ws.response.headers.get("Sec-WebSocket-Extensions"), str(await ws.recv())

    ext, got = run(main())
    assert ext is not None and ext.startswith("permessage-deflate")
    assert got == BIG


@pytest.mark.parametrize(
    "compression, error",
    [
        (websock.Compression("dedicated"), ValueError),  # window_bits is required
        (websock.Compression("dedicated", window_bits=8), websock.InvalidArgument),
        (websock.Compression("dedicated", window_bits=16), websock.InvalidArgument),
        (websock.Compression("shared", level=0), websock.InvalidArgument),
        (websock.Compression("shared", level=10), websock.InvalidArgument),
        (websock.Compression("gzip"), ValueError),  # type: ignore[arg-type]
    ],
)
def test_bad_compression_settings_are_refused(compression, error):
    with pytest.raises(error):
        websock.Server(compression=compression).start()


def test_request_reports_the_agreed_extension(serve_thread):
    """request.extensions / request.permessage_deflate say what the 101 agreed: the same
    value the client received, None/False when compression is off or not offered; the
    upgrade hook sees nothing agreed yet (only the offer, in the headers)."""
    seen: list[tuple[str, str | None, bool]] = []
    server = websock.Server(loops=1, compression=websock.Compression("shared"))

    @server.on_upgrade
    def hook(request: websock.Request) -> None:
        seen.append(("upgrade", request.extensions, request.permessage_deflate))
        seen.append(("offer", request.header("sec-websocket-extensions"), False))

    @server.on_message
    def reply(conn: websock.Connection, data: websock.Data) -> None:
        conn.send(f"{conn.request.extensions}|{conn.request.permessage_deflate}")

    s = serve_thread(server)

    async def client(compression: str | None) -> tuple[str | None, str]:
        async with connect(s.url, compression=compression) as ws:
            await ws.send("?")
            return ws.response.headers.get("Sec-WebSocket-Extensions"), str(await ws.recv())

    ext, got = run(client("deflate"))
    assert ext is not None and ext.startswith("permessage-deflate"), ext
    assert got == f"{ext}|True"
    ext, got = run(client(None))
    assert ext is None and got == "None|False"
    assert seen[0] == ("upgrade", None, False)
    assert seen[1][1] is not None and "permessage-deflate" in seen[1][1]
    assert seen[3] == ("offer", None, False)

