// node:test suite for the Node binding, against the real `ws` client over loopback:
// echo and data types, bad input (HTTP and WebSocket), origin policy, subprotocols, kept
// headers, the upgrade hook, tags, shutdown (clients see 1001).
'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const { startServer, next, connect, rawHttp, closed, WebSocket } = require('./helpers');
const { closeAll } = require('./helpers');
test.after(closeAll);
const { Server } = require('..');

test('echo: text stays text (string), binary stays binary (Buffer); ArrayBuffer and views send', async () => {
  const { server, url } = await startServer();
  const seen = [];
  server.on('message', (conn, data, isText) => {
    seen.push([typeof data, Buffer.isBuffer(data), isText]);
    conn.send(data);
  });
  const ws = await connect(url + '/echo');
  ws.send('héllo');
  const [t, tBin] = await next(ws, 'message');
  assert.equal(t.toString(), 'héllo');
  assert.equal(tBin, false);
  ws.send(Buffer.from([1, 2, 3]));
  const [b, bBin] = await next(ws, 'message');
  assert.deepEqual([...b], [1, 2, 3]);
  assert.equal(bBin, true);
  assert.deepEqual(seen, [['string', false, true], ['object', true, false]]);

  const [conn] = server.connections.values();
  conn.send(new Uint8Array([9, 8]).buffer);
  assert.deepEqual([...(await next(ws, 'message'))[0]], [9, 8]);
  conn.send(new Uint16Array([0x0201]));
  assert.deepEqual([...(await next(ws, 'message'))[0]], [1, 2]);
  // Views with an offset into their buffer send only their own bytes.
  const u = new Uint8Array([5, 6, 7, 8]);
  conn.send(u.subarray(1, 3));
  assert.deepEqual([...(await next(ws, 'message'))[0]], [6, 7]);
  conn.send(new DataView(u.buffer, 2, 2));
  assert.deepEqual([...(await next(ws, 'message'))[0]], [7, 8]);
  const big = Buffer.alloc(200_000, 7);
  conn.send(big);
  assert.equal((await next(ws, 'message'))[0].length, 200_000);
  ws.close();
  await server.close();
});

test('open/close pair up with request details; close codes and reasons reach both sides', async () => {
  const { server, url } = await startServer();
  const opened = next(server, 'open');
  const ws = await connect(url + '/room/1?user=ann');
  const [conn, req] = await opened;
  assert.equal(req.path, '/room/1');
  assert.equal(req.query, 'user=ann');
  assert.equal(req.url, '/room/1?user=ann');
  assert.equal(req.method, 'GET');
  assert.equal(req.remoteAddress, '127.0.0.1');
  assert.equal(conn.request, req);
  assert.equal(conn.readyState, 1);
  assert.ok(Number.isSafeInteger(conn.id));
  const serverClosed = next(server, 'close');
  ws.close(4001, 'bye now');
  const [c2, code, reason, why] = await serverClosed;
  assert.equal(c2, conn);
  assert.deepEqual([code, reason, why], [4001, 'bye now', 'peer']);
  assert.equal(conn.readyState, 3);
  assert.equal(conn.send('late'), false, 'send after close reports false');
  assert.equal(server.connections.size, 0);

  // Listen before connecting: a driven server emits `open` as it writes the 101, i.e.
  // possibly before the client's own `open`.
  const opened2 = next(server, 'open');
  const ws2 = await connect(url);
  const [c3] = await opened2;
  c3.close(4002, 'server says bye');
  assert.deepEqual(await closed(ws2), [4002, 'server says bye']);
  await server.close();
});

test('bad input: plain HTTP gets 426, a broken upgrade 400, bad UTF-8 1007, oversize 1009', async () => {
  const { server, port, url } = await startServer({ limits: { maxMessageSize: 1000 } });
  const plain = await rawHttp(port, 'GET / HTTP/1.1\r\nHost: x\r\n\r\n');
  assert.match(plain, /^HTTP\/1\.1 426/);
  const noKey = await rawHttp(port, 'GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n\r\n');
  assert.match(noKey, /^HTTP\/1\.1 400/);
  const garbage = await rawHttp(port, '\x00\x01\x02 not http at all\r\n\r\n');
  assert.match(garbage, /^HTTP\/1\.1 400/);

  const reasons = [];
  server.on('close', (_c, code, _r, why) => reasons.push([code, why]));
  const ws = await connect(url);
  // A text frame with invalid UTF-8, sent raw through ws's sender (ws validates only on receive).
  ws._sender.sendFrame(WebSocket.Sender.frame(Buffer.from([0xc3, 0x28]), { fin: true, rsv1: false, opcode: 1, mask: true, readOnly: false }), () => {});
  assert.equal((await closed(ws))[0], 1007);

  const ws2 = await connect(url);
  ws2.send(Buffer.alloc(1001));
  assert.equal((await closed(ws2))[0], 1009);
  await server.close();
  assert.deepEqual(reasons.map((r) => r[1]), ['protocol_error', 'protocol_error']);
});

test('bad arguments throw TypeError / coded errors, never crash', async () => {
  assert.throws(() => new Server({ port: 70000 }), RangeError);
  assert.throws(() => new Server({ origins: 'x' }), TypeError);
  assert.throws(() => new Server({ upgrade: 42 }), TypeError);
  assert.throws(() => new Server({ limits: { maxMessageSize: -1 } }), TypeError);
  await assert.rejects(new Server({ port: 0, subprotocols: ['bad proto'] }).listen(), { code: 'ERR_WEBSOCK_INVALID_ARGUMENT' });
  await assert.rejects(new Server({ port: 0, backpressure: { policy: 'maybe' } }).listen(), { code: 'ERR_WEBSOCK_INVALID_ARGUMENT' });
  await assert.rejects(new Server({ port: 0, tls: { cert: 'nope', key: 'nope' } }).listen(), { code: 'ERR_WEBSOCK_TLS' });
  const { server, port, url } = await startServer();
  await assert.rejects(new Server({ host: '127.0.0.1', port }).listen(), { code: 'ERR_WEBSOCK_IO' });
  const opened = next(server, 'open');
  const ws = await connect(url);
  const [conn] = await opened;
  assert.throws(() => conn.send(42), TypeError);
  assert.throws(() => conn.send({}), TypeError);
  assert.throws(() => conn.close(1005), { code: 'ERR_WEBSOCK_INVALID_ARGUMENT' });
  assert.throws(() => conn.close(999999), { code: 'ERR_WEBSOCK_INVALID_ARGUMENT' });
  assert.throws(() => conn.tag(''), { code: 'ERR_WEBSOCK_INVALID_ARGUMENT' });
  assert.throws(() => conn.tag(7), TypeError);
  assert.throws(() => server.sendByTag('', 'x'), { code: 'ERR_WEBSOCK_INVALID_ARGUMENT' });
  assert.equal(server.handleId > 0, true);
  ws.close();
  await server.close();
  assert.throws(() => server.sendByTag('a', 'x'), { code: 'ERR_WEBSOCK_SERVER_CLOSED' });
});

test('origin allow-list: listed and wildcard origins pass, others get 403, no Origin passes', async () => {
  const { server, url } = await startServer({ origins: ['https://app.example', 'https://*.example.com'] });
  (await connect(url, [], { origin: 'https://app.example' })).close();
  (await connect(url, [], { origin: 'https://eu.example.com' })).close();
  (await connect(url)).close();
  await assert.rejects(connect(url, [], { origin: 'https://evil.example' }), { status: 403 });
  await server.close();
});

test('subprotocols: the server preference wins among those offered; none offered → none', async () => {
  let offered;
  const { server, url } = await startServer({ subprotocols: ['chat.v2', 'chat.v1'], upgrade: (req) => { offered = req.offeredSubprotocols; } });
  const opened = next(server, 'open');
  const ws = await connect(url, ['chat.v1', 'chat.v2']);
  assert.equal(ws.protocol, 'chat.v2');
  const [, req] = await opened;
  assert.equal(req.subprotocol, 'chat.v2');
  assert.deepEqual(offered, ['chat.v1', 'chat.v2']);
  // Nothing in common: the upgrade still succeeds, without a Sec-WebSocket-Protocol header
  // (the `ws` client itself then gives up, so look at the raw answer).
  const raw = await rawHttp(server.port, 'GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
    'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: other\r\n\r\n', 101);
  assert.match(raw, /^HTTP\/1\.1 101/);
  assert.doesNotMatch(raw, /sec-websocket-protocol/i);
  ws.close();
  await server.close();
});

test('keepHeaders keeps only the named headers on the connection; the upgrade hook sees all', async () => {
  let hookHeaders;
  const { server, url } = await startServer({
    keepHeaders: ['cookie'],
    upgrade: (req) => { hookHeaders = req.headers; },
  });
  const opened = next(server, 'open');
  const ws = await connect(url, [], { headers: { Cookie: 'sid=abc123; theme=dark', 'X-Trace': 't-1' } });
  const [, req] = await opened;
  assert.equal(req.cookie('sid'), 'abc123');
  assert.equal(req.cookie('theme'), 'dark');
  assert.equal(req.header('X-Trace'), undefined);
  assert.equal(hookHeaders['x-trace'], 't-1');
  assert.equal(hookHeaders.cookie, 'sid=abc123; theme=dark');
  ws.close();
  await server.close();
});

test('async upgrade hook: accept with data and headers, reject with status, failures give 500', async () => {
  const errors = [];
  const { server, url } = await startServer({
    upgrade: async (req) => {
      await new Promise((r) => setTimeout(r, 5));
      const token = new URLSearchParams(req.query).get('token');
      if (token === 'good') return { data: { user: 'ann' }, headers: { 'X-Welcome': 'yes' } };
      if (token === 'throw') throw new Error('database down');
      if (token === 'status') throw Object.assign(new Error('slow down'), { status: 429 });
      if (token === 'no') return false;
      return { status: 401, body: 'who are you?' };
    },
  });
  server.on('error', (e) => errors.push(e.message));
  const opened = next(server, 'open');
  const ws = new WebSocket(url + '/?token=good');
  const [res] = await next(ws, 'upgrade');
  assert.equal(res.headers['x-welcome'], 'yes');
  const [conn] = await opened;
  assert.deepEqual(conn.data, { user: 'ann' });
  await assert.rejects(connect(url + '/?token=bad'), { status: 401 });
  await assert.rejects(connect(url + '/?token=no'), { status: 403 });
  await assert.rejects(connect(url + '/?token=status'), { status: 429 });
  await assert.rejects(connect(url + '/?token=throw'), { status: 500 });
  assert.deepEqual(errors, ['database down']);
  assert.equal(server.stats().rejected >= 4, true);
  ws.close();
  await server.close();
});

test('tags: tag/untag/tags, sendByTag and countByTag, closeByTag, broadcast', async () => {
  const { server, url } = await startServer();
  const conns = [];
  server.on('open', (c) => conns.push(c));
  const clients = [];
  for (let i = 0; i < 4; i++) clients.push(await connect(url));
  while (conns.length < 4) await next(server, 'open');
  const [a, b, c, d] = conns;
  assert.equal(a.tag('room:1'), true);
  assert.equal(a.tag('room:1'), false, 'second tag is a no-op');
  b.tag('room:1');
  c.tag('room:2');
  a.tag('vip');
  assert.deepEqual(a.tags, ['room:1', 'vip']);
  assert.equal(server.countByTag('room:1'), 2);
  const got = clients.map((ws) => { const m = []; ws.on('message', (x) => m.push(x.toString())); return m; });
  assert.equal(server.sendByTag('room:1', 'to room 1'), 2);
  assert.equal(server.sendByTag('nobody', 'x'), 0);
  server.broadcast(Buffer.from('all'));
  await new Promise((r) => setTimeout(r, 200));
  assert.deepEqual(got, [['to room 1', 'all'], ['to room 1', 'all'], ['all'], ['all']]);
  assert.equal(a.untag('room:1'), true);
  assert.equal(a.untag('room:1'), false);
  assert.equal(server.countByTag('room:1'), 1);
  const dClosed = closed(clients[3]);
  const dServerClosed = next(server, 'close', (x) => x === d);
  d.tag('kick');
  assert.equal(server.closeByTag('kick', 4000, 'kicked'), 1);
  assert.deepEqual(await dClosed, [4000, 'kicked']);
  await dServerClosed;
  assert.equal(d.tag('after'), false, 'tagging a closed connection reports false');
  assert.equal(server.countByTag('kick'), 0);
  for (const ws of clients) ws.close();
  await server.close();
});

test('shutdown: every client sees 1001, every open gets its close, close() resolves once', async () => {
  const { server, url } = await startServer();
  const clients = [];
  for (let i = 0; i < 5; i++) clients.push(await connect(url));
  while (server.connections.size < 5) await next(server, 'open');
  const whys = [];
  server.on('close', (_c, code, _r, why) => whys.push([code, why]));
  const clientCodes = Promise.all(clients.map(closed));
  const p1 = server.close();
  const p2 = server.close();
  assert.equal(p1, p2);
  await p1;
  assert.deepEqual((await clientCodes).map((x) => x[0]), [1001, 1001, 1001, 1001, 1001]);
  assert.equal(whys.length, 5);
  assert.ok(whys.every(([code, why]) => code === 1001 && why === 'shutdown'));
  assert.equal(server.connections.size, 0);
  await assert.rejects(server.listen(), { code: 'ERR_WEBSOCK_SERVER_CLOSED' });
  await assert.rejects(connect(url));
});

test('backpressure: bufferedAmount grows for a reader that does not read, drain follows', async () => {
  const { server, url } = await startServer({ backpressure: { drainThreshold: 64 * 1024 } });
  const opened = next(server, 'open');
  const ws = await connect(url);
  const [conn] = await opened;
  ws._socket.pause();
  const chunk = Buffer.alloc(1 << 20, 1);
  for (let i = 0; i < 16; i++) conn.send(chunk);
  await new Promise((r) => setTimeout(r, 100));
  assert.ok(conn.bufferedAmount > 64 * 1024, `bufferedAmount ${conn.bufferedAmount}`);
  const drained = next(server, 'drain', (c) => c === conn);
  let received = 0;
  ws.on('message', (m) => { received += m.length; });
  ws._socket.resume();
  await drained;
  ws.close();
  await server.close();
  assert.ok(received > 0);
});

test('ids are the core ids, exact: connections on every loop (ids up to 2^53) are reachable by id', async () => {
  const { server, url } = await startServer({ loops: 2 });
  const { attach } = require('..');
  const remote = attach(server.handleId);
  const clients = [];
  for (let i = 0; i < 6; i++) clients.push(await connect(url));
  while (server.connections.size < 6) await next(server, 'open');
  const ids = [...server.connections.keys()];
  assert.equal(new Set(ids).size, 6);
  for (const id of ids) assert.ok(Number.isSafeInteger(id) && id >= 0 && id < 2 ** 53, `id ${id}`);
  // The loop index sits in the top 8 of the 53 bits: the second loop's ids are >= 2^45,
  // which the old 21-bit packing could never produce.
  assert.ok(ids.some((id) => id >= 2 ** 45), `some connection on loop 1: ${ids}`);
  const got = clients.map((ws) => next(ws, 'message'));
  for (const id of ids) assert.equal(remote.send(id, `to ${id}`), true);
  const texts = (await Promise.all(got)).map(([m]) => m.toString()).sort();
  assert.deepEqual(texts, ids.map((id) => `to ${id}`).sort());
  // Not an id: negative, fractional, 2^53 and beyond → false, never a throw or an alias.
  for (const bad of [-1, 1.5, 2 ** 53, 2 ** 60, NaN]) assert.equal(remote.send(bad, 'x'), false);
  assert.equal(remote.send(ids[0] + 2 ** 22, 'x'), false, 'another generation of the same slot');
  for (const ws of clients) ws.close();
  await server.close();
});

test('sendBatch: replies of one dispatch go out in one native call, in order, before a close', async () => {
  const { server, url } = await startServer({ sendBatch: true });
  const peers = [];
  server.on('open', (c) => peers.push(c));
  let burster;
  server.on('message', (conn, data) => {
    if (data !== 'burst') return;
    burster = conn;
    for (let i = 0; i < 100; i++) conn.send(i % 2 ? `t${i}` : Buffer.from(`b${i}`));
    for (const p of peers) if (p !== conn) p.send('fan');
    conn.close(4000, 'after the burst');
  });
  const a = await connect(url);
  const b = await connect(url);
  while (peers.length < 2) await next(server, 'open');
  const got = [];
  a.on('message', (m, isBinary) => got.push((isBinary ? 'B:' : '') + m.toString()));
  const bGot = next(b, 'message');
  a.send('burst');
  assert.deepEqual(await closed(a), [4000, 'after the burst']);
  assert.deepEqual(got, Array.from({ length: 100 }, (_, i) => (i % 2 ? `t${i}` : `B:b${i}`)));
  assert.equal((await bGot)[0].toString(), 'fan');
  // The native call skips ids that are gone (or never were) and queues the rest.
  // (Not `server.connections`: a's close event may still be on its way from its loop.)
  const bConn = peers.find((p) => p !== burster);
  const bAgain = next(b, 'message');
  assert.equal(server._h.sendMany([burster.id, 'gone', -1, 'bad', bConn.id, Buffer.from('live'), 2 ** 53, 'x']), 1);
  assert.equal((await bAgain)[0].toString(), 'live');
  b.close();
  await server.close();
});
