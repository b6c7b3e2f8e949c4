"""The Python examples (examples/python) run for real against `websockets` clients."""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import sys
import threading

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed as ClientClosed
from websockets.exceptions import InvalidStatus

from conftest import run

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "examples", "python"))

import chat  # noqa: E402
import im  # noqa: E402
import producer  # noqa: E402
import upload  # noqa: E402


def test_chat_rooms(serve_thread):
    s = serve_thread(chat.build())

    async def client():
        ann = await connect(s.url + "/room/a?nick=ann")
        assert json.loads(await ann.recv()) == {"event": "join", "nick": "ann", "members": 1}
        bob = await connect(s.url + "/room/a?nick=bob")
        eve = await connect(s.url + "/room/b?nick=eve")
        assert json.loads(await ann.recv())["nick"] == "bob"
        assert json.loads(await bob.recv())["members"] == 2
        await eve.recv()  # her own join
        await bob.send("hi room a")
        said = {"event": "say", "nick": "bob", "text": "hi room a"}
        assert json.loads(await ann.recv()) == said
        assert json.loads(await bob.recv()) == said
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(eve.recv(), 0.2)  # other room hears nothing
        # permessage-deflate (shared) was negotiated; a long message, compressed once for
        # the room, reaches both members intact.
        assert "permessage-deflate" in (ann.response.headers.get("Sec-WebSocket-Extensions") or "")
        long_text = "the quick brown fox " * 500
        await ann.send(long_text)
        for ws in (ann, bob):
            assert json.loads(await ws.recv()) == {"event": "say", "nick": "ann", "text": long_text}
        await bob.close()
        assert json.loads(await ann.recv()) == {"event": "leave", "nick": "bob"}
        bad = await connect(s.url + "/nowhere")
        with pytest.raises(ClientClosed) as e:
            await bad.recv()
        assert e.value.rcvd.code == 4404
        await ann.close()
        await eve.close()

    run(client())


def test_im_by_user_tag_with_cookie_identity():
    async def main():
        async with im.build() as server:
            url = f"ws://127.0.0.1:{server.port}"
            with pytest.raises(InvalidStatus) as e:
                async with connect(url, additional_headers={"Cookie": "session=forged"}):
                    pass
            assert e.value.response.status_code == 401
            ann = await connect(url, additional_headers={"Cookie": "session=s-ann"})
            bob1 = await connect(url, additional_headers={"Cookie": "x=1; session=s-bob"})
            bob2 = await connect(url, additional_headers={"Cookie": "session=s-bob-phone"})
            while server.count_by_tag("user:bob") < 2:
                await asyncio.sleep(0.01)
            await ann.send(json.dumps({"to": "bob", "text": "hello bob"}))
            assert json.loads(await ann.recv()) == {"delivered": 2}
            for b in (bob1, bob2):
                assert json.loads(await b.recv()) == {"from": "ann", "text": "hello bob"}
            await bob1.send(json.dumps({"to": "carl", "text": "?"}))
            assert json.loads(await bob1.recv()) == {"delivered": 0}
            await ann.send("not json")
            assert "error" in json.loads(await ann.recv())
            for c in (ann, bob1, bob2):
                await c.close()

    run(main())


def test_upload_with_progress_and_limits(tmp_path):
    data = os.urandom(300_000)

    async def main():
        async with upload.build(str(tmp_path)) as server:
            url = f"ws://127.0.0.1:{server.port}"
            async with connect(url, max_size=None) as ws:
                await ws.send(json.dumps({"name": "../../evil/f.bin", "size": len(data)}))
                progress = []
                for i in range(0, len(data), 100_000):
                    await ws.send(data[i:i + 100_000])
                    progress.append(json.loads(await ws.recv()))
                done = json.loads(await ws.recv())
            assert [p["received"] for p in progress] == [100_000, 200_000, 300_000]
            assert done == {"done": "f.bin", "sha256": hashlib.sha256(data).hexdigest()}
            async with connect(url) as ws:
                await ws.send(json.dumps({"name": "big", "size": upload.MAX_FILE + 1}))
                with pytest.raises(ClientClosed) as e:
                    await ws.recv()
                assert e.value.rcvd.code == 4413
            async with connect(url, max_size=None) as ws:
                await ws.send(json.dumps({"name": "chunky", "size": 10 * upload.MAX_CHUNK}))
                await ws.send(b"x" * (upload.MAX_CHUNK + 1))
                with pytest.raises(ClientClosed) as e:
                    await ws.recv()
                assert e.value.rcvd.code == 1009

    run(main())
    assert (tmp_path / "f.bin").read_bytes() == data


def test_multithreaded_producers(serve_thread):
    s = serve_thread(producer.build())
    stop = threading.Event()
    threads = producer.start_producers(s.server, stop, interval=0.002)

    async def client():
        async with connect(s.url + "/ticker/AAPL,GOOG") as ws:
            got = [json.loads(await ws.recv()) for _ in range(40)]
        async with connect(s.url + "/ticker/NOPE") as ws:
            with pytest.raises(ClientClosed) as e:
                await ws.recv()
        return got, e.value.rcvd.code

    try:
        got, code = run(client())
    finally:
        stop.set()
        for t in threads:
            t.join(5)
    assert {m["symbol"] for m in got} == {"AAPL", "GOOG"}
    for sym in ("AAPL", "GOOG"):
        seqs = [m["seq"] for m in got if m["symbol"] == sym]
        assert seqs == sorted(seqs)  # each producer's order is kept
    assert code == 4404
