// permessage-deflate through the Node binding, against the real `ws` client with
// `perMessageDeflate: true`: the extension is negotiated (request.extensions /
// permessageDeflate on the server, ws.extensions on the client), messages above the
// threshold round-trip intact and travel compressed (the core's wire byte counters are
// far below the payload), shared and dedicated modes, the dedicated cap, the stats, and
// option errors.
'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const { startServer, next, connect, closed, within } = require('./helpers');
const { closeAll } = require('./helpers');
test.after(closeAll);
const { Server } = require('..');

const DEFLATE = { perMessageDeflate: true };

/** A compressible text of `n` bytes (repetitive, but not a single repeated byte). */
function text(n) {
  let s = '';
  for (let i = 0; s.length < n; i++) s += `line ${i % 50}: the quick brown fox jumps over the lazy dog\n`;
  return s.slice(0, n);
}

/** Polls `server.stats()` until `pred` holds (the compression gauges are refreshed by
 * each loop's timer sweep, at most a second apart). */
async function statsUntil(server, pred, what) {
  return within(5000, what, (async () => {
    for (;;) {
      const s = server.stats();
      if (pred(s)) return s;
      await new Promise((r) => setTimeout(r, 50));
    }
  })());
}

test('shared: negotiated with no context takeover; big text and binary round-trip compressed, small ones plain', async () => {
  const { server, url } = await startServer({ compression: { mode: 'shared' } });
  server.on('message', (conn, data) => conn.send(data));
  const opened = next(server, 'open');
  const ws = await connect(url, [], DEFLATE);
  const [conn, req] = await opened;
  assert.equal(req.permessageDeflate, true);
  assert.match(req.extensions, /^permessage-deflate/);
  assert.match(req.extensions, /server_no_context_takeover/);
  assert.match(req.extensions, /client_no_context_takeover/);
  assert.equal(conn.request.extensions, req.extensions);
  assert.match(ws.extensions, /permessage-deflate/, 'the client agreed too');

  const big = text(200_000);
  ws.send(big);
  const [t, isBinary] = await next(ws, 'message');
  assert.equal(isBinary, false);
  assert.equal(t.toString(), big);
  const bin = Buffer.from(text(100_000));
  ws.send(bin);
  const [b, bIsBinary] = await next(ws, 'message');
  assert.equal(bIsBinary, true);
  assert.ok(b.equals(bin));
  ws.send('small');
  assert.equal((await next(ws, 'message'))[0].toString(), 'small');

  // 300 KB each way; compressed, both directions are a few KB on the wire.
  const s = await statsUntil(server, (x) => x.messagesOut >= 3, 'replies counted');
  assert.ok(s.bytesIn < 30_000, `bytesIn ${s.bytesIn} for 300 KB of compressible input`);
  assert.ok(s.bytesOut < 30_000, `bytesOut ${s.bytesOut} for 300 KB of compressible output`);
  assert.equal(s.dedicatedCompression, 0);
  assert.equal(s.compressionBytes, 0, 'shared mode keeps no history per connection');
  ws.close();
  await server.close();
});

test('shared: sendByTag and broadcast compress once and reach every deflate client intact', async () => {
  const { server, url } = await startServer({ compression: 'shared' });
  server.on('open', (c) => c.tag('room'));
  const clients = [await connect(url, [], DEFLATE), await connect(url, [], DEFLATE), await connect(url, [], { perMessageDeflate: false })];
  while (server.connections.size < 3) await next(server, 'open');
  const msg = text(50_000);
  const got = clients.map((ws) => next(ws, 'message'));
  assert.equal(server.sendByTag('room', msg), 3);
  for (const [m] of await Promise.all(got)) assert.equal(m.toString(), msg);
  const got2 = clients.map((ws) => next(ws, 'message'));
  server.broadcast(Buffer.from(msg));
  for (const [m] of await Promise.all(got2)) assert.equal(m.toString(), msg);
  const offered = [...server.connections.values()].map((c) => c.request.permessageDeflate).sort();
  assert.deepEqual(offered, [false, true, true], 'the client that did not offer gets plain frames');
  const s = server.stats();
  assert.ok(s.bytesOut < 200_000, `bytesOut ${s.bytesOut}: 300 KB sent, 200 KB of it to deflate clients`);
  for (const ws of clients) ws.close();
  await server.close();
});

test('dedicated: a window per connection up to maxDedicated, then shared; gauges follow', async () => {
  const { server, url } = await startServer({ compression: { mode: 'dedicated', windowBits: 12, maxDedicated: 1, threshold: 64, level: 9 } });
  server.on('message', (conn, data) => conn.send(data));
  let opened = next(server, 'open');
  const a = await connect(url, [], DEFLATE);
  const [, reqA] = await opened;
  assert.equal(reqA.permessageDeflate, true);
  assert.doesNotMatch(reqA.extensions, /server_no_context_takeover/, 'the first connection keeps its context');
  assert.match(reqA.extensions, /server_max_window_bits=12/);
  opened = next(server, 'open');
  const b = await connect(url, [], DEFLATE);
  const [, reqB] = await opened;
  assert.equal(reqB.permessageDeflate, true);
  assert.match(reqB.extensions, /server_no_context_takeover/, 'over the cap: shared');

  // Several similar messages over one kept context, each intact.
  for (let i = 0; i < 5; i++) {
    const m = `update ${i}: ` + text(3000);
    a.send(m);
    assert.equal((await next(a, 'message'))[0].toString(), m);
  }
  b.send(text(2000));
  assert.equal((await next(b, 'message'))[0].toString(), text(2000));
  const s = await statsUntil(server, (x) => x.dedicatedCompression === 1 && x.compressionBytes > 0, 'a dedicated context with history');
  assert.ok(s.compressionBytes <= 2 * 4096, `compressionBytes ${s.compressionBytes} for one 4 KiB window each way`);
  assert.ok(s.bytesOut < 10_000, `bytesOut ${s.bytesOut} for 17 KB sent`);

  const aClosed = next(server, 'close');
  a.close();
  await aClosed;
  await statsUntil(server, (x) => x.dedicatedCompression === 0 && x.compressionBytes === 0, 'the context freed on close');
  b.close();
  await server.close();
});

test('no offer, disabled mode, and the upgrade hook: extensions null, permessageDeflate false', async () => {
  let hookExt;
  const { server, url } = await startServer({ compression: { mode: 'shared' }, upgrade: (req) => { hookExt = [req.extensions, req.permessageDeflate]; } });
  const opened = next(server, 'open');
  const ws = await connect(url, [], { perMessageDeflate: false });
  const [, req] = await opened;
  assert.equal(req.extensions, null);
  assert.equal(req.permessageDeflate, false);
  assert.deepEqual(hookExt, [null, false], 'nothing is agreed before the hook decides');
  ws.close();
  await server.close();

  const off = await startServer({ compression: { mode: 'disabled' } });
  off.server.on('message', (c, d) => c.send(d));
  const opened2 = next(off.server, 'open');
  const ws2 = await connect(off.url, [], DEFLATE);
  const [, req2] = await opened2;
  assert.equal(req2.extensions, null);
  assert.equal(ws2.extensions, '', 'the client was told no');
  ws2.send(text(5000));
  assert.equal((await next(ws2, 'message'))[0].toString(), text(5000));
  ws2.close();
  await closed(ws2);
  await off.server.close();
});

test('compression options are checked', async () => {
  assert.throws(() => new Server({ compression: { mode: 'maybe' } }), TypeError);
  assert.throws(() => new Server({ compression: 42 }), TypeError);
  assert.throws(() => new Server({ compression: { mode: 'dedicated' } }), /windowBits/);
  assert.throws(() => new Server({ compression: { threshold: -1 } }), TypeError);
  assert.throws(() => new Server({ compression: { level: 1.5 } }), TypeError);
  await assert.rejects(new Server({ port: 0, compression: { mode: 'dedicated', windowBits: 8 } }).listen(), { code: 'ERR_WEBSOCK_INVALID_ARGUMENT' });
  await assert.rejects(new Server({ port: 0, compression: { mode: 'dedicated', windowBits: 16 } }).listen(), { code: 'ERR_WEBSOCK_INVALID_ARGUMENT' });
  await assert.rejects(new Server({ port: 0, compression: { level: 10 } }).listen(), { code: 'ERR_WEBSOCK_INVALID_ARGUMENT' });
  await assert.rejects(new Server({ port: 0, compression: { level: 0 } }).listen(), { code: 'ERR_WEBSOCK_INVALID_ARGUMENT' });
});
