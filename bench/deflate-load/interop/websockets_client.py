"""Interop check: Python `websockets` client (default compression: client_max_window_bits
offered, memLevel 5) against interop_server. Every echo must match; exits non-zero if not."""
import asyncio
import sys

from websockets.asyncio.client import connect


async def main(port: int) -> int:
    msgs = []
    for i, n in enumerate([0, 1, 32, 500, 4096, 4096, 9000, 33000, 100000, 32]):
        s = ""
        while len(s) < n:
            s += f'{{"id":{i * 100 + len(s)},"user":"u{i}","text":"hello {i}"}},'
        msgs.append(s[:n])
    async with connect(f"ws://127.0.0.1:{port}/echo", max_size=1 << 24) as ws:
        print("negotiated:", ws.response.headers.get("Sec-WebSocket-Extensions"))
        if ws.response.headers.get("Sec-WebSocket-Extensions") is None:
            return 1
        for m in msgs:
            await ws.send(m)
            got = await ws.recv()
            if got != m:
                print(f"FAIL: {len(got)} vs {len(m)}")
                return 1
        await ws.send(msgs[4].encode())
        if await ws.recv() != msgs[4].encode():
            print("FAIL binary")
            return 1
        # Fragmented message: websockets compresses each fragment in one stream.
        await ws.send(iter([msgs[6][:3000], msgs[6][3000:]]))
        if await ws.recv() != msgs[6]:
            print("FAIL fragmented")
            return 1
    print(f"ok websockets: {len(msgs) + 2} echoes")
    return 0


sys.exit(asyncio.run(main(int(sys.argv[1]))))
