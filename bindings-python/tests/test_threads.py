"""Tags and sends from many Python threads, close_by_tag, broadcast, graceful shutdown
(clients see 1001, every open gets its close), stop() from another thread, and a clean
interpreter exit with a server still running."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import textwrap
import threading

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed as ClientClosed

import websock
from conftest import run, wait_until


def test_tags_from_many_threads(serve_thread):
    server = websock.Server(loops=2)
    conns: list[websock.Connection] = []
    server.on_open(lambda conn: conns.append(conn))
    s = serve_thread(server)
    n_clients, n_threads, per_thread = 6, 4, 25

    async def client():
        socks = [await connect(s.url) for _ in range(n_clients)]
        wait_until(lambda: len(conns) == n_clients)
        errors: list[BaseException] = []

        def worker(t: int) -> None:
            try:
                for i in range(per_thread):
                    for c in conns:
                        c.tag(f"t{t}")  # idempotent: returns False after the first time
                    server.send_by_tag(f"t{t}", f"{t}:{i}")
            except BaseException as e:
                errors.append(e)

        threads = [threading.Thread(target=worker, args=(t,)) for t in range(n_threads)]
        for th in threads:
            th.start()
        for th in threads:
            th.join()
        assert not errors, errors
        got = []
        for ws in socks:
            msgs = [await ws.recv() for _ in range(n_threads * per_thread)]
            got.append(msgs)
        for ws in socks:
            await ws.close()
        return got

    got = run(client())
    for msgs in got:
        assert len(msgs) == n_threads * per_thread
        for t in range(n_threads):
            # each producer's messages arrive complete and in the order it sent them
            mine = [m for m in msgs if m.startswith(f"{t}:")]
            assert mine == [f"{t}:{i}" for i in range(per_thread)]


def test_tag_untag_count_close_by_tag_broadcast(serve_thread):
    server = websock.Server(loops=2)
    opened: list[websock.Connection] = []

    @server.on_open
    def o(conn: websock.Connection) -> None:
        room = conn.request.query
        assert conn.tag(room) is True
        assert conn.tag(room) is False
        conn.tag("everyone")
        opened.append(conn)

    s = serve_thread(server)

    async def client():
        a = [await connect(s.url + "/?red") for _ in range(3)]
        b = [await connect(s.url + "/?blue") for _ in range(2)]
        wait_until(lambda: len(opened) == 5)
        assert server.count_by_tag("red") == 3 and server.count_by_tag("blue") == 2
        assert server.count_by_tag("everyone") == 5 and server.count_by_tag("none") == 0
        assert sorted(opened[0].tags) == sorted([opened[0].request.query, "everyone"])
        assert server.broadcast(b"all") == 5
        for ws in a + b:
            assert await ws.recv() == b"all"
        red = [c for c in opened if c.request.query == "red"]
        assert red[0].untag("red") is True and red[0].untag("red") is False
        assert server.send_by_tag("red", "r") == 2
        assert server.close_by_tag("blue", 4000, "blue done") == 2
        for ws in b:
            with pytest.raises(ClientClosed) as e:
                await ws.recv()
            assert e.value.rcvd.code == 4000
        got = []
        for ws in a:
            try:
                got.append(await asyncio.wait_for(ws.recv(), 0.3))
            except asyncio.TimeoutError:
                got.append(None)
        for ws in a:
            await ws.close()
        return got

    assert sorted(run(client()), key=str) == [None, "r", "r"]
    wait_until(lambda: server.count_by_tag("everyone") == 0)


def test_buffered_amount_is_readable(serve_thread):
    server = websock.Server(loops=1)
    amounts: list[int] = []

    @server.on_message
    def m(conn: websock.Connection, data: websock.Data) -> None:
        amounts.append(conn.buffered_amount)
        conn.send(data)

    s = serve_thread(server)

    async def client():
        async with connect(s.url) as ws:
            await ws.send("x")
            return await ws.recv()

    assert run(client()) == "x"
    assert amounts and amounts[0] >= 0


def test_shutdown_closes_clients_with_1001_and_delivers_every_close():
    server = websock.Server(loops=2)
    closes: list[tuple[int, str | None]] = []
    opens: list[int] = []
    server.on_open(lambda conn: opens.append(conn.id))
    server.on_close(lambda conn, code, reason: closes.append((code, conn.close_kind)))
    server.start()
    th = threading.Thread(target=server.run)
    th.start()
    url = f"ws://127.0.0.1:{server.port}"

    async def client():
        socks = [await connect(url) for _ in range(5)]
        wait_until(lambda: len(opens) == 5)
        # shutdown() from another (non-dispatching) thread waits for the close events
        stopper = threading.Thread(target=server.shutdown, args=(2.0,))
        stopper.start()
        codes = []
        for ws in socks:
            with pytest.raises(ClientClosed) as e:
                await ws.recv()
            codes.append(e.value.rcvd.code if e.value.rcvd else None)
        stopper.join(10)
        return codes

    assert run(client()) == [1001] * 5
    th.join(10)
    assert not th.is_alive()
    assert sorted(closes) == [(1001, "shutdown")] * 5
    with pytest.raises(websock.ServerClosed):
        server.send_by_tag("x", "y")
    with pytest.raises(websock.ServerClosed):
        server.broadcast("y")


def test_stop_from_another_thread_ends_run():
    server = websock.Server(loops=1).start()
    timer = threading.Timer(0.2, server.stop)
    timer.start()
    server.run()  # returns once the shutdown finished
    timer.join()


def test_shutdown_from_inside_a_handler(serve_thread):
    server = websock.Server(loops=1)
    server.on_message(lambda conn, data: server.shutdown(1.0))
    server.start()
    th = threading.Thread(target=server.run)
    th.start()

    async def client():
        async with connect(f"ws://127.0.0.1:{server.port}") as ws:
            await ws.send("stop please")
            with pytest.raises(ClientClosed) as e:
                await ws.recv()
            return e.value.rcvd.code

    assert run(client()) == 1001
    th.join(10)
    assert not th.is_alive()


def test_shutdown_without_dispatcher_drains_itself():
    server = websock.Server(loops=1).start()
    server.shutdown(1.0)
    assert server.stats()["total"]["connections"] == 0


SCRIPT = textwrap.dedent(
    """
    import sys, threading, time, websock
    server = websock.Server(loops=2, keepalive=websock.Keepalive(ping_interval=0.05))
    server.on_open(lambda conn: print("OPEN", flush=True))
    def producer():
        while True:
            try:
                server.broadcast("tick")
            except websock.WebSocketError:
                return
            time.sleep(0.001)
    server.start()
    print(server.port, flush=True)
    threading.Thread(target=producer, daemon=True).start()
    threading.Thread(target=server.run, daemon=True).start()
    sys.stdin.readline()   # the test says when to exit; the server is still running
    """
)


def test_interpreter_exit_with_running_server_is_clean():
    env = dict(os.environ, RUST_BACKTRACE="1")
    p = subprocess.Popen([sys.executable, "-c", SCRIPT], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True, env=env)
    assert p.stdout is not None and p.stdin is not None
    port = int(p.stdout.readline())

    async def client():
        async with connect(f"ws://127.0.0.1:{port}") as ws:
            assert p.stdout is not None and p.stdout.readline() == "OPEN\n"
            assert await ws.recv() == "tick"
            p.stdin.write("\n")  # type: ignore[union-attr]
            p.stdin.flush()  # type: ignore[union-attr]
            with pytest.raises(ClientClosed) as e:
                while True:
                    await ws.recv()
            return e.value.rcvd.code if e.value.rcvd else None

    code = run(client())
    out, err = p.communicate(timeout=15)
    assert p.returncode == 0, err
    assert "panic" not in err.lower() and "Traceback" not in err, err
    assert code == 1001  # the atexit hook shut the server down gracefully
