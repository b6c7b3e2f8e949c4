"""wsload bench server (../../../../shared/bench/peers/CONTRACT.md) on the websock Python
binding, handlers written in Python: `/echo` and `/` echo, `/sub` tags itself `all`,
`/pub` sends every message to `all` with `server.send_by_tag` (one frame, encoded once in
Rust, shared by every subscriber).

Changed defaults: backlog 4096 (the contract asks for >= 100; the library default is
1024, kept for parity with the Rust bench server). Everything else is the library default
(64 MiB messages and outbound queue, keepalive 30 s / idle 120 s). `LOOPS` sets the number
of Rust event loops (default: one per CPU the process may use: 1 under bench.sh's taskset).
"""

import os
import signal

import websock

ECHO, SUB, PUB = 0, 1, 2

server = websock.Server(
    os.environ.get("HOST", "127.0.0.1"),
    int(os.environ.get("PORT", "9001")),
    loops=int(os.environ.get("LOOPS", "0")),
    backlog=4096,
)
send_by_tag = server.send_by_tag


@server.on_open
def opened(conn: websock.Connection) -> None:
    path = conn.request.path
    if path == "/sub":
        conn.tag("all")
        conn.data = SUB
    elif path == "/pub":
        conn.data = PUB
    else:
        conn.data = ECHO


@server.on_message
def message(conn: websock.Connection, data: websock.Data) -> None:
    role = conn.data
    if role == ECHO:
        conn.send(data)
    elif role == PUB:
        send_by_tag("all", data)


signal.signal(signal.SIGTERM, lambda *_: server.stop(0.5))
server.start()
print("READY", flush=True)
server.run()
