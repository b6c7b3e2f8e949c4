"""Multi-threaded producers sending by tag: live tickers.

Clients subscribe with ws://host:port/ticker/<SYMBOL> (several symbols: /ticker/A,B).
Each symbol has its own producer thread that publishes prices with
``server.send_by_tag("ticker:<SYMBOL>", ...)``; the server itself runs on the main
thread with ``server.run()``. No locks are needed: every websock call is thread-safe.

    python producer.py 8080
"""

from __future__ import annotations

import json
import random
import sys
import threading
import time

import websock

SYMBOLS = ("AAPL", "MSFT", "GOOG", "AMZN")


def build(port: int = 0, host: str = "127.0.0.1") -> websock.Server:
    server = websock.Server(host, port)

    @server.on_open
    def subscribe(conn: websock.Connection) -> None:
        wanted = conn.request.path.removeprefix("/ticker/").split(",")
        unknown = [s for s in wanted if s not in SYMBOLS]
        if unknown:
            conn.close(4404, f"unknown symbol {unknown[0]!r}")
            return
        for symbol in wanted:
            conn.tag(f"ticker:{symbol}")

    return server


def produce(server: websock.Server, symbol: str, stop: threading.Event, interval: float = 0.01) -> None:
    price = 100.0
    seq = 0
    while not stop.is_set():
        seq += 1
        price = round(price * (1 + random.uniform(-0.001, 0.001)), 4)
        try:
            server.send_by_tag(f"ticker:{symbol}", json.dumps({"symbol": symbol, "seq": seq, "price": price}))
        except websock.ServerClosed:
            return
        time.sleep(interval)


def start_producers(server: websock.Server, stop: threading.Event, interval: float = 0.01) -> list[threading.Thread]:
    threads = [
        threading.Thread(target=produce, args=(server, s, stop, interval), name=f"producer-{s}", daemon=True)
        for s in SYMBOLS
    ]
    for t in threads:
        t.start()
    return threads


if __name__ == "__main__":
    srv = build(int(sys.argv[1]) if len(sys.argv) > 1 else 8080).start()
    stop = threading.Event()
    start_producers(srv, stop)
    print(f"tickers on ws://127.0.0.1:{srv.port}/ticker/{','.join(SYMBOLS)}", flush=True)
    try:
        srv.run()
    finally:
        stop.set()
