#!/usr/bin/env python3
"""Turns bench.sh output (one line per peer and size) into a Markdown table per offer:
msgs/s, bytes on the wire per echo, server and client CPU use, what was negotiated, and
the ratios of every websock row against node-ws-deflate and python-websockets-deflate.
usage: summarize.py LOG..."""
import json
import re
import sys

rows = []
for path in sys.argv[1:]:
    for line in open(path):
        m = re.match(r"(\S+) size=(\d+) offer=(\S+) server_cpu=(\S*) (\{.*?\}) .*?negotiated: (.*)$", line)
        if not m:
            continue
        name, size, offer, scpu, js, neg = m.groups()
        j = json.loads(js)
        neg = neg.replace("Some(Agreed { ", "").replace(" })", "")
        rows.append(dict(name=name, size=int(size), offer=offer, scpu=float(scpu or 0), j=j, neg=neg))

PEERS = ("node-ws-deflate", "python-websockets-deflate")
for offer in dict.fromkeys(r["offer"] for r in rows):
    print(f"\n### offer: {offer}\n")
    print("| server | size | echo msgs/s | echo payload B | server CPU | server µs/msg | client CPU | client µs/msg | negotiated | × ws | × websockets |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for size in sorted({r["size"] for r in rows if r["offer"] == offer}):
        sel = [r for r in rows if r["offer"] == offer and r["size"] == size]
        base = {r["name"]: r["j"]["msgs_per_s"] for r in sel if r["name"] in PEERS}
        for r in sel:
            j = r["j"]
            ratio = lambda p: f"{j['msgs_per_s'] / base[p]:.2f}" if p in base and r["name"] not in PEERS else ""
            print(f"| {r['name']} | {size} | {j['msgs_per_s']:,} | {j['wire_in_payload_per_msg']} "
                  f"({j['echoes_compressed']:.0%} compressed) | {r['scpu']:.2f} | {r['scpu'] * 1e6 / max(j['msgs_per_s'], 1):.1f} | {j['client_cpu']:.2f} | "
                  f"{j['client_us_per_msg']} | {r['neg']} | {ratio(PEERS[0])} | {ratio(PEERS[1])} |")
