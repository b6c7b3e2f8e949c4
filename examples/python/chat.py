"""Chat with rooms, on tags: connect to ws://host:port/room/<name>?nick=<nick>.

Each connection is tagged ``room:<name>``; a message is sent to the whole room with one
``server.send_by_tag`` call (the frame is encoded once in Rust for every member). Joins
and leaves are announced. Clients that offer permessage-deflate (browsers, `websockets`)
get it in shared mode. Runs on the calling thread with ``server.run()``.

    python chat.py 8080      # then e.g.: python -m websockets ws://127.0.0.1:8080/room/lobby?nick=ann
"""

from __future__ import annotations

import json
import sys
from urllib.parse import parse_qs

import websock


def build(port: int = 0, host: str = "127.0.0.1") -> websock.Server:
    # Shared permessage-deflate: no compression memory per idle member, and a room message
    # (send_by_tag) over the 1 KiB threshold is compressed once for the whole room.
    server = websock.Server(
        host,
        port,
        limits=websock.Limits(max_message_size=64 * 1024),
        compression=websock.Compression("shared"),
    )

    @server.on_open
    def joined(conn: websock.Connection) -> None:
        path = conn.request.path
        if not path.startswith("/room/") or len(path) <= len("/room/"):
            conn.close(4404, "use /room/<name>")
            return
        room = path[len("/room/"):]
        nick = parse_qs(conn.request.query).get("nick", ["anonymous"])[0][:32]
        conn.data = (room, nick)
        conn.tag(f"room:{room}")
        members = server.count_by_tag(f"room:{room}")
        server.send_by_tag(f"room:{room}", json.dumps({"event": "join", "nick": nick, "members": members}))

    @server.on_message
    def said(conn: websock.Connection, data: websock.Data) -> None:
        if conn.data is None:
            return
        if not isinstance(data, str):
            conn.close(1003, "text only")
            return
        room, nick = conn.data
        server.send_by_tag(f"room:{room}", json.dumps({"event": "say", "nick": nick, "text": data}))

    @server.on_close
    def left(conn: websock.Connection, code: int, reason: str) -> None:
        if conn.data is not None:
            room, nick = conn.data
            try:
                server.send_by_tag(f"room:{room}", json.dumps({"event": "leave", "nick": nick}))
            except websock.ServerClosed:
                pass  # the whole server is going away

    return server


if __name__ == "__main__":
    srv = build(int(sys.argv[1]) if len(sys.argv) > 1 else 8080).start()
    print(f"chat on ws://127.0.0.1:{srv.port}/room/<name>?nick=<nick>", flush=True)
    srv.run()
