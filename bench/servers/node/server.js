// wsload bench server (CONTRACT.md) on the websock Node binding, handlers in JS:
// /echo and / echo every message back; /sub connections get the tag "all"; every message
// on /pub goes to "all" with server.sendByTag (frame encoded once in the core, queued by
// reference on every subscriber). Prints READY once listening.
//
// Changed defaults (contract): none. Library defaults already allow 64 MiB messages and a
// 64 MiB outbound queue per connection; keepalive pings every 30 s (wsload answers) and a
// 120 s idle timeout are within the contract. LOOPS (default 0: the binding's default
// event path, ONE loop turned on the JS thread itself; > 1: that many loop threads) sets
// the event-loop count; backlog 4096 as in the Rust bench server.
'use strict';
const path = require('node:path');
const { Server } = require(path.join(__dirname, '../../../bindings-node'));

const server = new Server({
  host: process.env.HOST || '127.0.0.1',
  port: Number(process.env.PORT || 9001),
  loops: Number(process.env.LOOPS || 0),
  backlog: 4096,
});

server.on('open', (conn, req) => {
  if (req.path === '/sub') conn.tag('all');
});
server.on('message', (conn, data) => {
  const p = conn.request.path;
  if (p === '/pub') server.sendByTag('all', data);
  else if (p !== '/sub') conn.send(data);
});

server.listen().then(() => console.log('READY'), (e) => { console.error(e); process.exit(1); });
const stop = () => server.close(1000).then(() => process.exit(0));
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
