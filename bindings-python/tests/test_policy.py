"""Handshake policy through the binding: origin allow-list, subprotocol choice, kept
headers (cookies), the upgrade hook (accept with data / reject), TLS."""

from __future__ import annotations

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

import websock
from conftest import run, wait_until


def test_origin_outside_allow_list_gets_403(serve_thread):
    s = serve_thread(websock.Server(loops=1, origins=["https://good.example", "https://*.trusted.example"]))

    async def status(origin: str | None) -> int:
        try:
            async with connect(s.url, origin=origin):  # type: ignore[arg-type]
                return 101
        except InvalidStatus as e:
            return e.response.status_code

    async def client():
        return [await status(o) for o in ("https://good.example", "https://a.trusted.example", "https://evil.example", None)]

    assert run(client()) == [101, 101, 403, 101]


def test_subprotocol_server_preference_and_refusal(serve_thread):
    server = websock.Server(loops=1, subprotocols=["chat.v2", "chat.v1"])
    chosen: list[str | None] = []
    server.on_open(lambda conn: chosen.append(conn.subprotocol))
    s = serve_thread(server)

    async def client():
        async with connect(s.url, subprotocols=["chat.v1", "chat.v2"]) as ws:  # type: ignore[list-item]
            a = ws.subprotocol
        async with connect(s.url, subprotocols=["chat.v1"]) as ws:  # type: ignore[list-item]
            b = ws.subprotocol
        async with connect(s.url) as ws:
            c = ws.subprotocol
        return a, b, c

    assert run(client()) == ("chat.v2", "chat.v1", None)
    wait_until(lambda: len(chosen) == 3)
    assert chosen == ["chat.v2", "chat.v1", None]


def test_kept_headers_and_cookie(serve_thread):
    server = websock.Server(loops=1, keep_headers=["cookie", "x-token"])

    @server.on_message
    def reply(conn: websock.Connection, data: websock.Data) -> None:
        r = conn.request
        names = sorted(n for n, _ in r.headers)
        conn.send(f"{r.cookie('sid')}|{r.header('X-Token')}|{r.header('user-agent')}|{','.join(names)}")

    s = serve_thread(server)

    async def client():
        headers = {"Cookie": "theme=dark; sid=abc123", "X-Token": "t0k"}
        async with connect(s.url, additional_headers=headers) as ws:
            await ws.send("?")
            return await ws.recv()

    assert run(client()) == "abc123|t0k|None|cookie,x-token"


def test_keep_all_headers(serve_thread):
    server = websock.Server(loops=1, keep_headers="all")
    server.on_message(lambda conn, data: conn.send(conn.request.header("user-agent") or "none"))
    s = serve_thread(server)

    async def client():
        async with connect(s.url, user_agent_header="probe/1") as ws:
            await ws.send("?")
            return await ws.recv()

    assert run(client()) == "probe/1"


def test_upgrade_hook_rejects_and_accepts_with_data(serve_thread):
    server = websock.Server(loops=1, subprotocols=["a", "b"])
    seen_headers: list[list[tuple[str, str]]] = []

    @server.on_upgrade
    def hook(request: websock.Request) -> websock.Accept | websock.Reject:
        seen_headers.append(request.headers)  # the hook sees every header
        user = request.cookie("user")
        if user is None:
            return websock.Reject(401, "login first\n", [("WWW-Authenticate", "Cookie")])
        return websock.Accept(subprotocol="b", headers=[("X-Hello", user)], data={"user": user})

    @server.on_open
    def opened(conn: websock.Connection) -> None:
        conn.send(f"hello {conn.data['user']}")

    s = serve_thread(server)

    async def client():
        with pytest.raises(InvalidStatus) as e:
            async with connect(s.url):
                pass
        rejected = (e.value.response.status_code, e.value.response.body, e.value.response.headers.get("WWW-Authenticate"))
        async with connect(s.url, additional_headers={"Cookie": "user=ann"}, subprotocols=["a", "b"]) as ws:  # type: ignore[list-item]
            return rejected, await ws.recv(), ws.subprotocol, ws.response.headers.get("X-Hello")

    rejected, greeting, proto, hello = run(client())
    assert rejected == (401, b"login first\n", "Cookie")
    assert (greeting, proto, hello) == ("hello ann", "b", "ann")
    assert any(n == "user-agent" for n, _ in seen_headers[0])


def test_upgrade_hook_false_and_exception(serve_thread):
    server = websock.Server(loops=1)

    @server.on_upgrade
    def hook(request: websock.Request) -> bool:
        if request.path == "/boom":
            raise RuntimeError("hook bug")
        return request.path != "/no"

    s = serve_thread(server)

    async def status(path: str) -> int:
        try:
            async with connect(s.url + path):
                return 101
        except InvalidStatus as e:
            return e.response.status_code

    async def client():
        return [await status(p) for p in ("/yes", "/no", "/boom")]

    assert run(client()) == [101, 403, 500]


def test_upgrade_hook_must_be_registered_before_start():
    server = websock.Server(loops=1).start()
    try:
        with pytest.raises(websock.WebSocketError):
            server.on_upgrade(lambda request: True)
    finally:
        server.shutdown(1.0)


def test_handler_object():
    class Echo:
        def on_message(self, conn: websock.Connection, data: websock.Data) -> None:
            conn.send(data)

    server = websock.Server(loops=1, handler=Echo())
    from conftest import Running

    r = Running(server)
    try:
        async def client():
            async with connect(r.url) as ws:
                await ws.send("obj")
                return await ws.recv()

        assert run(client()) == "obj"
    finally:
        r.stop()
