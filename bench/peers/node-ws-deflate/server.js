// Bench peer: Node `ws` with permessage-deflate turned on (`perMessageDeflate: true`,
// i.e. ws's own deflate defaults: threshold 1024 B, context takeover both ways, zlib
// level defaults, concurrencyLimit 10). Contract: /work/shared/bench/peers/CONTRACT.md.
// Changed knobs: perMessageDeflate (the point of this peer), maxPayload 64 MiB (the
// contract's message sizes), clientTracking off (as the shared node-ws peer).
// /echo and / : echo; /sub : joins a Set; /pub : loop over the Set with send().
'use strict';
const http = require('http');
const { WebSocketServer, WebSocket } = require('ws');

const port = Number(process.env.PORT || 9001);
const host = process.env.HOST || '127.0.0.1';
const server = http.createServer((req, res) => { res.writeHead(404); res.end(); });
const wss = new WebSocketServer({ noServer: true, perMessageDeflate: true, clientTracking: false, maxPayload: 64 * 1024 * 1024 });
const subs = new Set();

server.on('upgrade', (req, socket, head) => {
  const path = req.url.split('?')[0];
  wss.handleUpgrade(req, socket, head, (ws) => {
    if (path === '/sub') {
      subs.add(ws);
      ws.on('close', () => subs.delete(ws));
    } else if (path === '/pub') {
      ws.on('message', (data, isBinary) => {
        for (const c of subs) if (c.readyState === WebSocket.OPEN) c.send(data, { binary: isBinary });
      });
    } else {
      ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
    }
  });
});
server.listen(port, host, () => console.log('READY'));
process.on('SIGTERM', () => process.exit(0));
