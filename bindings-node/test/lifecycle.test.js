// Lifecycle tests (in this run's event path): the process exits after server.close() and with unref(), a referenced
// server keeps it alive (control), and worker_threads send by tag through a handle id.
'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const path = require('node:path');
const { spawn } = require('node:child_process');
const { Worker } = require('node:worker_threads');
const { startServer, next, connect } = require('./helpers');
const { closeAll } = require('./helpers');
test.after(closeAll);
const { attach } = require('..');

function runChild(script, limitMs) {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [path.join(__dirname, 'fixtures', script)], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (d) => { out += d; });
    const timer = setTimeout(() => { child.kill('SIGKILL'); }, limitMs);
    child.on('exit', (code, signal) => { clearTimeout(timer); resolve({ code, signal, out }); });
  });
}

test('the process exits by itself after server.close(); the client saw 1001', async () => {
  const r = await runChild('exit-after-close.js', 10_000);
  assert.equal(r.signal, null, `child had to be killed; output: ${r.out}`);
  assert.equal(r.code, 0);
  // The child inherits this run's event path (driven unless WEBSOCK_NODE_EVENTS says).
  const want = process.env.WEBSOCK_NODE_EVENTS === 'thread' ? 'poll' : (process.env.WEBSOCK_NODE_EVENTS || 'driven');
  assert.match(r.out, new RegExp(`events ${want}`));
  assert.match(r.out, /client-close 1001/);
  assert.match(r.out, /closed/);
});

test('an unref()ed server does not keep the process alive', async () => {
  const r = await runChild('exit-unref.js', 10_000);
  assert.equal(r.signal, null, 'child had to be killed');
  assert.match(r.out, /listening true/);
});

test('control: a listening server keeps the process alive', async () => {
  const r = await runChild('never-exits.js', 1500);
  assert.equal(r.signal, 'SIGKILL');
  assert.match(r.out, /listening/);
});

test('worker_threads send by tag and by id through attach(handleId)', async () => {
  const { server, url } = await startServer();
  let opened = next(server, 'open');
  const a = await connect(url);
  const [conn] = await opened;
  conn.tag('news');
  opened = next(server, 'open');
  const b = await connect(url);
  const [other] = await opened;
  other.tag('news');
  const gotA = [];
  a.on('message', (m) => gotA.push(m.toString()));
  const bGot = next(b, 'message');
  const w = new Worker(path.join(__dirname, 'fixtures', 'worker-producer.js'), { workerData: { handleId: server.handleId, connId: conn.id } });
  const exited = new Promise((r) => w.once('exit', r));
  const [reply] = await next(w, 'message');
  assert.deepEqual(reply, { n: 2, direct: true, count: 2, tags: ['news'] });
  assert.equal((await bGot)[0].toString(), 'from worker');
  await new Promise((r) => setTimeout(r, 100));
  assert.deepEqual(gotA.sort(), ['direct', 'from worker']);
  assert.equal(await exited, 0);
  a.close();
  b.close();
  await server.close();
  assert.throws(() => attach(server.handleId), { code: 'ERR_WEBSOCK_SERVER_CLOSED' });
});

for (const [events, loops] of [['driven', undefined], ['poll', 2]]) {
  test(`a worker thread terminated with its own ${events} server still open neither crashes nor leaves the port open`, async () => {
    const w = new Worker(path.join(__dirname, 'fixtures', 'worker-own-server.js'), { workerData: { events, loops } });
    const exited = new Promise((r) => w.once('exit', r));
    const [{ port, events: got }] = await next(w, 'message');
    assert.equal(got, events);
    const ws = await connect(`ws://127.0.0.1:${port}`);
    const echoed = next(ws, 'message');
    ws.send('hi');
    assert.equal((await echoed)[0].toString(), 'hi');
    const wsClosed = new Promise((r) => ws.once('close', r));
    await w.terminate();
    assert.equal(await exited, 1);
    await wsClosed; // the env's cleanup shut the server down
    // Nothing listens on the port any more (the listener was closed, not leaked).
    const refused = await new Promise((resolve) => {
      const s = require('node:net').connect(port, '127.0.0.1');
      s.once('connect', () => { s.destroy(); resolve(false); });
      s.once('error', (e) => resolve(e.code === 'ECONNREFUSED'));
    });
    assert.ok(refused, `port ${port} still accepts connections`);
  });
}
