"""Instant messaging to a user by tag, identity from a kept cookie (asyncio).

The upgrade hook reads the ``session`` cookie and refuses unknown sessions with 401
before the upgrade. The cookie header is kept on the connection (``keep_headers``), so the
open handler reads the identity from it and tags the connection ``user:<name>``: one user
may be connected from several devices and gets every message on each of them.
Send ``{"to": "bob", "text": "hi"}``; the sender gets ``{"delivered": n}`` (devices reached).

    python im.py 8080
"""

from __future__ import annotations

import asyncio
import json
import sys

import websock

# A stand-in for a session store: session id -> user name.
SESSIONS = {"s-ann": "ann", "s-bob": "bob", "s-bob-phone": "bob"}


def build(port: int = 0, host: str = "127.0.0.1") -> websock.serve:
    ctx = websock.serve(host=host, port=port, keep_headers=["cookie"])
    server = ctx.server

    @server.on_upgrade
    def authenticate(request: websock.Request) -> websock.Reject | None:
        if SESSIONS.get(request.cookie("session") or "") is None:
            return websock.Reject(401, "log in first\n")
        return None  # accept

    @server.on_open
    def opened(conn: websock.Connection) -> None:
        # The kept Cookie header is still on the connection after the upgrade.
        user = SESSIONS[conn.request.cookie("session") or ""]
        conn.data = user
        conn.tag(f"user:{user}")

    @server.on_message
    async def message(conn: websock.Connection, data: websock.Data) -> None:
        try:
            msg = json.loads(data)
            to, text = str(msg["to"]), str(msg["text"])
        except (ValueError, KeyError, TypeError):
            conn.send(json.dumps({"error": 'send {"to": user, "text": message}'}))
            return
        n = server.send_by_tag(f"user:{to}", json.dumps({"from": conn.data, "text": text}))
        conn.send(json.dumps({"delivered": n}))

    return ctx


async def main(port: int) -> None:
    async with build(port) as server:
        print(f"im on ws://127.0.0.1:{server.port} (cookie session=s-ann | s-bob)", flush=True)
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 8080))
