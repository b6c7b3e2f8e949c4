#!/usr/bin/env python3
"""Server memory per idle TLS connection: starts the Rust bench server with a throwaway
certificate, opens N wss:// connections with the `websockets` client, and reads the
server's VmRSS before and after (and after one echo round). Prints one JSON line.
usage: measure.py [N]   (needs: openssl, python `websockets`; see run.sh)"""
import asyncio, json, os, ssl, subprocess, sys, tempfile, time

import websockets

N = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BIN = os.path.join(ROOT, "target", "release", "websock-bench-server")


def rss_kb(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS")


async def main() -> None:
    tmp = tempfile.mkdtemp()
    cert, key = os.path.join(tmp, "c.pem"), os.path.join(tmp, "k.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                    "-nodes", "-keyout", key, "-out", cert, "-days", "1", "-subj", "/CN=localhost"],
                   check=True, capture_output=True)
    env = dict(os.environ, PORT="9431", TLS_CERT=cert, TLS_KEY=key, LOOPS="1")
    srv = subprocess.Popen([BIN], env=env, stdout=subprocess.PIPE)
    assert srv.stdout.readline().strip() == b"READY"
    ctx = ssl.create_default_context(cafile=cert)
    try:
        time.sleep(0.3)
        before = rss_kb(srv.pid)
        conns = []
        for i in range(0, N, 100):
            conns += await asyncio.gather(*[websockets.connect("wss://localhost:9431/echo", ssl=ctx, compression=None, max_size=None)
                                            for _ in range(min(100, N - i))])
        await asyncio.sleep(1.0)
        after = rss_kb(srv.pid)
        await asyncio.gather(*[c.send("ping") for c in conns])
        assert all(m == "ping" for m in await asyncio.gather(*[c.recv() for c in conns]))
        await asyncio.sleep(0.5)
        after_echo = rss_kb(srv.pid)
        print(json.dumps({"conns": N, "rss_before_kb": before, "rss_after_kb": after, "rss_after_echo_kb": after_echo,
                          "bytes_per_idle_tls_conn": round((after - before) * 1024 / N),
                          "bytes_per_tls_conn_after_echo": round((after_echo - before) * 1024 / N)}))
        await asyncio.gather(*[c.close() for c in conns])
    finally:
        srv.terminate()
        srv.wait()


asyncio.run(main())
