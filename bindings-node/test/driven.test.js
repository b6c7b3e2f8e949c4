// Driven mode (the default event path for one loop): the JS thread turns the core's loop
// through libuv. These tests check what that mode must get right besides echo: the
// mode choice itself, the core's timers (handshake and idle timeouts) firing through the
// libuv timer armed with Turn.wait, sends made outside an event handler (a JS timer, a
// worker thread) waking an idle loop at once, and order under a burst that takes many
// turns. Every server here is explicitly driven, whatever WEBSOCK_NODE_EVENTS says.
'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const net = require('node:net');
const path = require('node:path');
const { Worker } = require('node:worker_threads');
const { Server } = require('..');
const { startServer, next, connect, closed, within } = require('./helpers');
const { closeAll } = require('./helpers');
test.after(closeAll);

const driven = (opts = {}) => startServer({ events: 'driven', loops: undefined, ...opts });
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

test('event path: one loop is driven by default, more loops use loop threads, driven with loops > 1 is refused', async (t) => {
  if (process.env.WEBSOCK_NODE_EVENTS) return t.skip('WEBSOCK_NODE_EVENTS overrides the default');
  for (const [loops, want] of [[undefined, 'driven'], [1, 'driven'], [2, 'poll']]) {
    const s = new Server({ port: 0, loops });
    await s.listen();
    assert.equal(s.events, want, `loops ${loops}`);
    assert.equal(s.stats().loops, loops ?? 1);
    await s.close();
  }
  const bad = new Server({ port: 0, loops: 2, events: 'driven' });
  await assert.rejects(bad.listen(), (e) => e instanceof TypeError && /driven/.test(e.message));
  assert.throws(() => new Server({ events: 'fast' }), TypeError);
  const threaded = new Server({ port: 0, events: 'thread' });
  await threaded.listen();
  assert.equal(threaded.events, 'poll');
  await threaded.close();
});

test('driven: the handshake timeout fires (libuv timer armed with Turn.wait)', async () => {
  const { server, port } = await driven({ limits: { handshakeTimeout: 200 } });
  assert.equal(server.events, 'driven');
  const t0 = Date.now();
  const took = await within(5000, 'the server to drop a silent socket', new Promise((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1'); // never sends a request
    s.on('close', () => resolve(Date.now() - t0));
    s.on('error', reject);
  }));
  assert.ok(took >= 150 && took < 2000, `dropped after ${took} ms`);
  await server.close();
});

test('driven: the idle timeout closes a silent connection', async () => {
  const { server, url } = await driven({ keepalive: { pingInterval: false, idleTimeout: 300 } });
  const opened = next(server, 'open');
  const ws = await connect(url);
  await opened;
  const t0 = Date.now();
  const [, , , why] = await next(server, 'close');
  const took = Date.now() - t0;
  assert.equal(why, 'timeout');
  assert.ok(took >= 200 && took < 3000, `closed after ${took} ms`);
  await closed(ws);
  await server.close();
});

test('driven: a send from a JS timer (outside any event) reaches an idle client at once', async () => {
  const { server, url } = await driven();
  const opened = next(server, 'open');
  const ws = await connect(url);
  const [conn] = await opened;
  await sleep(300); // the loop is idle in libuv
  const got = next(ws, 'message');
  const t0 = Date.now();
  assert.equal(conn.send('late'), true);
  const [m] = await got;
  assert.equal(m.toString(), 'late');
  assert.ok(Date.now() - t0 < 300, `took ${Date.now() - t0} ms (waited for a timer instead of a wake-up?)`);
  ws.close();
  await server.close();
});

test('driven: a worker thread sendByTag wakes an idle server at once', async () => {
  const { server, url } = await driven();
  const opened = next(server, 'open');
  const ws = await connect(url);
  const [conn] = await opened;
  conn.tag('news');
  const got = next(ws, 'message');
  const w = new Worker(path.join(__dirname, 'fixtures', 'worker-late-send.js'), { workerData: { handleId: server.handleId } });
  const [sentAt] = await next(w, 'message');
  const [m] = await got;
  const took = Date.now() - sentAt;
  assert.equal(m.toString(), 'late news');
  assert.ok(took < 300, `delivered ${took} ms after the worker's send`);
  ws.close();
  await server.close();
});

test('driven: a burst of 5000 messages over many turns echoes completely and in order', async () => {
  const { server, url } = await driven();
  server.on('message', (c, d) => c.send(d));
  const ws = await connect(url);
  const N = 5000;
  const got = [];
  const done = within(10_000, 'all echoes', new Promise((resolve) => {
    ws.on('message', (m) => { got.push(Number(m.toString())); if (got.length === N) resolve(); });
  }));
  for (let i = 0; i < N; i++) ws.send(String(i));
  await done;
  assert.deepEqual(got, Array.from({ length: N }, (_, i) => i));
  const st = server.stats();
  assert.equal(st.messagesIn, N);
  ws.close();
  await server.close();
});

test('driven: close() from inside a message handler shuts down cleanly, and listen() after it fails', async () => {
  const { server, url } = await driven();
  const ws = await connect(url);
  let closing;
  server.on('message', () => { closing = server.close(500); });
  ws.send('stop');
  assert.equal((await closed(ws))[0], 1001);
  await within(3000, 'close() to resolve', new Promise((r) => { const t = setInterval(() => { if (closing) { clearInterval(t); r(closing); } }, 5); }));
  await closing;
  await assert.rejects(server.listen(), { code: 'ERR_WEBSOCK_SERVER_CLOSED' });
});

test('driven: a server started in the continuation of another one\'s close() works (descriptor numbers are reused)', async () => {
  // The continuation runs inside the batch that carries the shutdown, right after the old
  // loop's descriptor was closed, so the new server's descriptors may get its number: the
  // old libuv poll must be gone by then. (Found as the NEXT test file entry hanging in
  // `connect` after the burst test, 3 runs in 4, when the driver stopped its poll after
  // the batch; this replay of the sequence did not hang even then, so it checks the
  // sequence works rather than proving the fix: the suite order above is what did.)
  let { server, url } = await driven();
  for (let round = 0; round < 4; round++) {
    server.on('message', (c, d) => c.send(d));
    const ws = await connect(url);
    let n = 0;
    const done = within(5000, 'echoes', new Promise((resolve) => ws.on('message', () => { if (++n === 500) resolve(); })));
    for (let i = 0; i < 500; i++) ws.send(String(i));
    await done;
    ws.close();
    ({ server, url } = await server.close().then(() => driven()));
  }
  const opened = next(server, 'open');
  const ws = await connect(url);
  await opened;
  ws.close();
  await server.close();
});

test('binary payloads of one batch (pooled views up to 4 KB and 64 KB per pool, own Buffers past that) arrive intact', async () => {
  const { server, url } = await startServer(); // this run's event path
  const seen = [];
  server.on('message', (c, d, isText) => {
    assert.equal(isText, false);
    assert.ok(Buffer.isBuffer(d));
    seen.push(d); // kept past the handler: views must stay valid
    c.send(d);
  });
  const ws = await connect(url);
  const sizes = [];
  for (let i = 0; i < 300; i++) sizes.push([0, 1, 31, 1000, 4096, 4097, 70_000][i % 7]);
  const msgs = sizes.map((n, i) => Buffer.alloc(n, i % 251));
  const got = [];
  const done = within(10_000, 'all binary echoes', new Promise((resolve) => {
    ws.on('message', (m, isBinary) => { assert.ok(isBinary); got.push(m); if (got.length === msgs.length) resolve(); });
  }));
  for (const m of msgs) ws.send(m);
  await done;
  for (let i = 0; i < msgs.length; i++) {
    assert.ok(got[i].equals(msgs[i]), `echo ${i} (${sizes[i]} B)`);
    assert.ok(seen[i].equals(msgs[i]), `kept message ${i} (${sizes[i]} B)`);
  }
  ws.close();
  await server.close();
});
