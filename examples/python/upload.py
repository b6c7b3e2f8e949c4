"""File upload over WebSocket (asyncio, one handler per connection).

Protocol: the client sends a text header ``{"name": "x.bin", "size": 12345}``, then the
file as binary messages; after each chunk the server answers ``{"received": n, "total":
size}`` (progress), and at the end ``{"done": name, "sha256": ...}``. Files over
``MAX_FILE`` are refused (close 4413); a single message over 1 MiB is closed by the core
with 1009 (``Limits.max_message_size``).

    python upload.py 8080 /tmp/uploads
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import sys

import websock

MAX_FILE = 16 * 1024 * 1024
MAX_CHUNK = 1024 * 1024


def build(directory: str, port: int = 0, host: str = "127.0.0.1") -> websock.serve:
    async def receive(conn: websock.Connection) -> None:
        header = await conn.recv()
        try:
            meta = json.loads(header)
            name = os.path.basename(str(meta["name"]))
            size = int(meta["size"])
        except (ValueError, KeyError, TypeError):
            conn.close(4400, "first message: {name, size}")
            return
        if not name or size < 0 or size > MAX_FILE:
            conn.close(4413, f"files are at most {MAX_FILE} bytes")
            return
        digest = hashlib.sha256()
        received = 0
        path = os.path.join(directory, name)
        with open(path + ".part", "wb") as f:
            while received < size:
                chunk = await conn.recv()
                if not isinstance(chunk, bytes) or received + len(chunk) > size:
                    conn.close(4400, "binary chunks, no more than the announced size")
                    return
                f.write(chunk)
                digest.update(chunk)
                received += len(chunk)
                conn.send(json.dumps({"received": received, "total": size}))
        os.replace(path + ".part", path)
        conn.send(json.dumps({"done": name, "sha256": digest.hexdigest()}))

    return websock.serve(receive, host, port, limits=websock.Limits(max_message_size=MAX_CHUNK))


async def main(port: int, directory: str) -> None:
    os.makedirs(directory, exist_ok=True)
    async with build(directory, port) as server:
        print(f"upload on ws://127.0.0.1:{server.port} into {directory}", flush=True)
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 8080, sys.argv[2] if len(sys.argv) > 2 else "uploads"))
