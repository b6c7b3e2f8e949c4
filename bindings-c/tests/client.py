"""Real WebSocket client (the `websockets` library) that drives the C and Perl example
servers in the tests: `client.py echo|chat|pubsub|perl|tls-echo|deflate-MODE PORT`. Exits non-zero on the first
mismatch (an assertion), printing what differed."""
import asyncio
import sys

import websockets


async def recv(ws):
    return await asyncio.wait_for(ws.recv(), timeout=5)


async def echo(port, path="/echo", scheme="ws", ssl=None):
    async with websockets.connect(f"{scheme}://127.0.0.1:{port}{path}", max_size=None, ssl=ssl) as ws:
        for msg in ["hello", "", "ünïcödé ✓", "x" * 125, "y" * 126, "z" * 70000]:
            await ws.send(msg)
            got = await recv(ws)
            assert got == msg, f"text echo of {len(msg)} chars: got {got[:40]!r}"
        for msg in [b"\x00\x01\x02", b"", bytes(range(256)) * 300]:
            await ws.send(msg)
            got = await recv(ws)
            assert got == msg, f"binary echo of {len(msg)} bytes differs"
        # Order is kept across a burst.
        for i in range(200):
            await ws.send(f"m{i}")
        for i in range(200):
            got = await recv(ws)
            assert got == f"m{i}", f"burst: got {got!r} want m{i}"
    # Several clients at once.
    async def one(k):
        async with websockets.connect(f"{scheme}://127.0.0.1:{port}{path}", ssl=ssl) as ws:
            for i in range(20):
                await ws.send(f"{k}-{i}")
                assert await recv(ws) == f"{k}-{i}"
    await asyncio.gather(*(one(k) for k in range(10)))
    print("echo ok")


async def tls_echo(port):
    """wss:// with the test's self-signed certificate (path in WEBSOCK_TEST_CERT) as the CA."""
    import os
    import ssl

    ctx = ssl.create_default_context(cafile=os.environ["WEBSOCK_TEST_CERT"])
    await echo(port, "/echo", "wss", ctx)
    print("tls echo ok")


async def chat(port):
    base = f"ws://127.0.0.1:{port}/chat"
    async with websockets.connect(f"{base}?name=alice&room=a") as alice, \
            websockets.connect(f"{base}?name=bob&room=a") as bob, \
            websockets.connect(f"{base}?name=carol&room=b") as carol:
        for ws in (alice, bob, carol):
            assert await recv(ws) == "welcome"
        await alice.send("hi")
        assert await recv(alice) == "alice: hi"
        assert await recv(bob) == "alice: hi"
        await carol.send("anyone?")
        assert await recv(carol) == "carol: anyone?"
        await carol.send("/join a")
        assert await recv(carol) == "joined a"
        await bob.send("yo")
        for ws in (alice, bob, carol):
            assert await recv(ws) == "bob: yo"
        await carol.send("/msg alice secret")
        assert await recv(alice) == "[carol] secret"
        await carol.send("/msg nobody x")
        assert await recv(carol) == "no such user"
        # bob must have received nothing private: his next message is the room's.
        await alice.send("bye")
        for ws in (alice, bob, carol):
            assert await recv(ws) == "alice: bye"
        # The chat negotiates shared permessage-deflate; a long room message (compressed
        # once for the room) reaches every member intact.
        assert "permessage-deflate" in (alice.response.headers.get("Sec-WebSocket-Extensions") or "")
        long_text = "the quick brown fox " * 150  # 3000 bytes: the chat's line limit is 4 KiB
        await bob.send(long_text)
        for ws in (alice, bob, carol):
            assert await recv(ws) == f"bob: {long_text}"
    print("chat ok")


async def pubsub(port):
    url = f"ws://127.0.0.1:{port}"
    subs = [await websockets.connect(f"{url}/sub") for _ in range(5)]
    # /sub joins on open; make sure the server has processed every open first.
    await asyncio.sleep(0.3)
    async with websockets.connect(f"{url}/pub") as pub:
        for i in range(50):
            await pub.send(f"p{i}")
        await pub.send(b"\x01bin")
        for s in subs:
            for i in range(50):
                assert await recv(s) == f"p{i}"
            assert await recv(s) == b"\x01bin"
        try:
            extra = await asyncio.wait_for(pub.recv(), timeout=0.3)
            raise AssertionError(f"publisher got {extra!r}")
        except asyncio.TimeoutError:
            pass
    for s in subs:
        await s.close()
    await echo(port, "/echo")
    print("pubsub ok")


async def perl(port):
    await echo(port, "/echo")
    async with websockets.connect(f"ws://127.0.0.1:{port}/shout") as a, \
            websockets.connect(f"ws://127.0.0.1:{port}/echo") as b:
        await a.send("quiet")
        assert await recv(a) == "QUIET"
        await b.send("/all to everyone")
        assert await recv(a) == "to everyone"
        assert await recv(b) == "to everyone"
    print("perl ok")


async def ask_stats(ws):
    await ws.send("stats")
    return {k: int(v) for k, v in (kv.split("=") for kv in (await recv(ws)).split())}


async def deflate(port, mode):
    """The server runs tests/c/deflate.c with MODE off | shared | dedicated:BITS. The
    `websockets` client offers permessage-deflate by default; check the answer, that large
    messages round-trip, and (from the server's own counters) that they crossed the wire
    compressed in both directions."""
    url = f"ws://127.0.0.1:{port}/"
    record = '{"user": "alice", "room": "lobby", "text": "hello there", "seq": %d}'
    big = "[" + ",".join(record % i for i in range(2000)) + "]"
    async with websockets.connect(url, max_size=None) as ws:
        ext = ws.response.headers.get("Sec-WebSocket-Extensions")
        if mode == "off":
            assert ext is None, f"compression off but the server answered {ext!r}"
        else:
            assert ext is not None and ext.startswith("permessage-deflate"), ext
            if mode == "shared":
                assert "server_no_context_takeover" in ext and "client_no_context_takeover" in ext, ext
            else:
                assert f"server_max_window_bits={mode.split(':')[1]}" in ext, ext
        # What websock_request_extensions / _permessage_deflate report in on_open.
        hello = await recv(ws)
        want = "open ext=- pmd=0" if ext is None else f"open ext={ext} pmd=1"
        assert hello == want, (hello, want)
        sent = 0
        for i in range(10):
            msg = big + str(i)
            await ws.send(msg)
            assert await recv(ws) == msg, f"compressed echo {i} differs"
            sent += len(msg)
        await ws.send(big.encode())
        assert await recv(ws) == big.encode(), "binary compressed echo differs"
        sent += len(big)
        await ws.send("hi")  # below the threshold: goes uncompressed
        assert await recv(ws) == "hi"
        st = await ask_stats(ws)
        if mode == "off":
            assert st["bytes_in"] > sent and st["bytes_out"] > sent, st
        else:
            # The JSON-like text compresses > 10x: both directions must show it.
            assert st["bytes_in"] < sent // 5 and st["bytes_out"] < sent // 5, (sent, st)
        if mode.startswith("dedicated"):
            assert st["dedicated_compression"] == 1, st
            for _ in range(40):  # compression_bytes is refreshed by the loop's timer sweep
                if st["compression_bytes"] > 0:
                    break
                await asyncio.sleep(0.1)
                st = await ask_stats(ws)
            assert st["compression_bytes"] > 0, st
        else:
            assert st["dedicated_compression"] == 0 and st["compression_bytes"] == 0, st
    # The dedicated context went with its connection (asked without compression).
    async with websockets.connect(url, compression=None) as ws:
        assert ws.response.headers.get("Sec-WebSocket-Extensions") is None
        assert await recv(ws) == "open ext=- pmd=0"
        st = await ask_stats(ws)
        assert st["dedicated_compression"] == 0, st
        await ws.send("stop")
        try:
            await asyncio.wait_for(ws.recv(), timeout=5)
        except websockets.ConnectionClosed:
            pass
    print(f"deflate {mode} ok")


if __name__ == "__main__":
    mode, port = sys.argv[1], int(sys.argv[2])
    if mode.startswith("deflate-"):
        asyncio.run(deflate(port, mode[len("deflate-"):]))
    else:
        asyncio.run({"echo": echo, "chat": chat, "pubsub": pubsub, "perl": perl, "tls-echo": tls_echo}[mode](port))
