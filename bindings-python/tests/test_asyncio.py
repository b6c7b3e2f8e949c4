"""The asyncio API: `async with websock.serve(handler)`, `async for message in conn`,
`async def` event handlers and upgrade hooks, graceful close on exit."""

from __future__ import annotations

import asyncio

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed as ClientClosed
from websockets.exceptions import InvalidStatus

import websock
from conftest import run


def test_connection_handler_with_async_for():
    ended: list[tuple[int | None, str | None]] = []

    async def handler(conn: websock.Connection) -> None:
        async for message in conn:
            conn.send(message)
        ended.append((conn.close_code, conn.close_kind))

    async def main():
        async with websock.serve(handler, loops=1) as server:
            async with connect(f"ws://127.0.0.1:{server.port}") as ws:
                out = []
                for i in range(200):  # burst: many messages per batch
                    await ws.send(f"m{i}")
                for _ in range(200):
                    out.append(await ws.recv())
                await ws.send(b"\x01")
                out.append(await ws.recv())
            await asyncio.sleep(0.05)
            return out

    out = run(main())
    assert out == [f"m{i}" for i in range(200)] + [b"\x01"]
    assert ended == [(1000, "peer")]


def test_handler_return_closes_connection_and_errors_close_1011():
    async def handler(conn: websock.Connection) -> None:
        msg = await conn.recv()
        if msg == "boom":
            raise RuntimeError("handler bug")
        conn.send("bye")

    async def main():
        async with websock.serve(handler, loops=1) as server:
            url = f"ws://127.0.0.1:{server.port}"
            async with connect(url) as ws:
                await ws.send("hi")
                assert await ws.recv() == "bye"
                with pytest.raises(ClientClosed) as e:
                    await ws.recv()
                normal = e.value.rcvd.code
            async with connect(url) as ws:
                await ws.send("boom")
                with pytest.raises(ClientClosed) as e:
                    await ws.recv()
                return normal, e.value.rcvd.code

    assert run(main()) == (1000, 1011)


def test_async_event_handlers_and_async_upgrade_hook():
    events: list[str] = []

    async def main():
        ctx = websock.serve(loops=1)
        server = ctx.server

        @server.on_upgrade
        async def hook(request: websock.Request) -> websock.Accept | websock.Reject:
            await asyncio.sleep(0.01)  # e.g. look the token up somewhere
            if request.query != "token=ok":
                return websock.Reject(401, "no")
            return websock.Accept(data="ann")

        @server.on_open
        async def opened(conn: websock.Connection) -> None:
            events.append(f"open {conn.data}")
            conn.tag("room")

        @server.on_message
        async def message(conn: websock.Connection, data: websock.Data) -> None:
            await asyncio.sleep(0)
            server.send_by_tag("room", f"{conn.data}: {data!s}")

        @server.on_close
        def closed(conn: websock.Connection, code: int, reason: str) -> None:
            events.append(f"close {code}")

        async with ctx:
            url = f"ws://127.0.0.1:{server.port}"
            with pytest.raises(InvalidStatus) as e:
                async with connect(url + "/?token=bad"):
                    pass
            assert e.value.response.status_code == 401
            async with connect(url + "/?token=ok") as ws:
                await ws.send("hello")
                got = await ws.recv()
            await asyncio.sleep(0.05)
            return got

    assert run(main()) == "ann: hello"
    assert events == ["open ann", "close 1000"]


def test_exit_of_serve_closes_clients_with_1001_and_await_form():
    async def handler(conn: websock.Connection) -> None:
        async for _ in conn:
            pass

    async def main():
        server = await websock.serve(handler, loops=1)
        async with connect(f"ws://127.0.0.1:{server.port}") as ws:
            closing = asyncio.ensure_future(server.aclose(2.0))
            with pytest.raises(ClientClosed) as e:
                await ws.recv()
            await closing
            return e.value.rcvd.code, server.count_by_tag("x") if False else None

    code, _ = run(main())
    assert code == 1001


def test_recv_without_connection_handler_is_an_error():
    async def main():
        async with websock.serve(loops=1) as server:
            got: list[BaseException] = []

            @server.on_open
            async def o(conn: websock.Connection) -> None:
                try:
                    await conn.recv()
                except websock.WebSocketError as e:
                    got.append(e)

            async with connect(f"ws://127.0.0.1:{server.port}"):
                await asyncio.sleep(0.1)
            return got

    assert len(run(main())) == 1


def test_threads_and_asyncio_together():
    async def handler(conn: websock.Connection) -> None:
        conn.tag("feed")
        async for _ in conn:
            pass

    async def main():
        async with websock.serve(handler, loops=2) as server:
            async with connect(f"ws://127.0.0.1:{server.port}") as ws:
                while server.count_by_tag("feed") == 0:
                    await asyncio.sleep(0.01)
                # a plain thread sends while the asyncio loop serves
                await asyncio.to_thread(lambda: [server.send_by_tag("feed", f"n{i}") for i in range(50)])
                return [await ws.recv() for _ in range(50)]

    assert run(main()) == [f"n{i}" for i in range(50)]
