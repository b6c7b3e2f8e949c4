// The examples in examples/node run and do what they say: chat rooms, IM by tag, upload,
// and the worker_threads producer (each started as its own process on a free port).
'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const path = require('node:path');
const net = require('node:net');
const { spawn } = require('node:child_process');
const { connect, next, closed } = require('./helpers');

const dir = path.join(__dirname, '..', '..', 'examples', 'node');

function freePort() {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => { const { port } = s.address(); s.close(() => resolve(port)); });
  });
}

async function run(t, file, env = {}) {
  const port = await freePort();
  const child = spawn(process.execPath, [path.join(dir, file), String(port)], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'inherit'] });
  t.after(() => child.kill('SIGKILL'));
  const out = [];
  child.stdout.setEncoding('utf8');
  child.stdout.on('data', (d) => out.push(d));
  await next(child.stdout, 'data', () => true, 10_000);
  return { url: `ws://127.0.0.1:${port}`, child, out };
}

/** Collects a client's messages as strings. */
function inbox(ws) {
  const box = [];
  ws.on('message', (m) => box.push(m.toString()));
  return box;
}

const settle = (ms = 150) => new Promise((r) => setTimeout(r, ms));

test('chat.js: rooms hear only their own messages; names are required', async (t) => {
  const { url } = await run(t, 'chat.js');
  await assert.rejects(connect(url + '/?room=x'), { status: 400 });
  const ann = await connect(url + '/?name=ann&room=a', [], { perMessageDeflate: true });
  assert.match(ann.extensions, /permessage-deflate/, 'chat negotiates shared deflate');
  const annBox = inbox(ann);
  const bob = await connect(url + '/?name=bob&room=a');
  const bobBox = inbox(bob);
  const cid = await connect(url + '/?name=cid&room=b');
  const cidBox = inbox(cid);
  await settle();
  ann.send('hi room a');
  await settle();
  assert.ok(bobBox.includes('ann: hi room a'));
  assert.ok(!cidBox.some((m) => m.includes('hi room a')));
  cid.send('/join a');
  await settle();
  cid.send('now in a');
  await settle();
  assert.ok(annBox.includes('cid: now in a'));
  const long = 'a long line that is worth compressing; '.repeat(40);
  bob.send(long);
  await settle();
  assert.ok(annBox.includes('bob: ' + long), 'a compressed message arrives intact');
  for (const ws of [ann, bob, cid]) ws.close();
});

test('im.js: a message reaches every device of the addressee, offline users are reported', async (t) => {
  const { url } = await run(t, 'im.js');
  const bob1 = await connect(url, [], { headers: { cookie: 'user=bob' } });
  const bob1Box = inbox(bob1);
  const bob2 = await connect(url + '/?user=bob');
  const bob2Box = inbox(bob2);
  const ann = await connect(url + '/?user=ann');
  const annBox = inbox(ann);
  await settle();
  ann.send(JSON.stringify({ to: 'bob', text: 'hey' }));
  ann.send(JSON.stringify({ to: 'zed', text: 'hey' }));
  await settle();
  for (const box of [bob1Box, bob2Box]) assert.ok(box.includes(JSON.stringify({ from: 'ann', text: 'hey' })), box.join());
  assert.ok(annBox.includes(JSON.stringify({ error: 'zed is offline' })));
  const anon = await connect(url);
  assert.equal((await closed(anon))[0], 4001);
  for (const ws of [bob1, bob2, ann]) ws.close();
});

test('upload.js: header + binary chunks arrive as a file with the right SHA-256', async (t) => {
  const { url } = await run(t, 'upload.js');
  const ws = await connect(url);
  const box = inbox(ws);
  const data = Buffer.alloc(300_000);
  for (let i = 0; i < data.length; i++) data[i] = i % 251;
  ws.send(JSON.stringify({ name: '../evil/name.bin', size: data.length }));
  for (let off = 0; off < data.length; off += 65536) ws.send(data.subarray(off, off + 65536));
  const [last] = await next(ws, 'message', (m) => m.toString().includes('done'), 10_000);
  const done = JSON.parse(last.toString());
  assert.equal(done.bytes, data.length);
  assert.equal(done.sha256, require('node:crypto').createHash('sha256').update(data).digest('hex'));
  assert.equal(path.basename(done.done), 'name.bin');
  assert.ok(box.some((m) => m.includes('"ready"')));
  ws.close();
});

test('worker-producer.js: ticks sent from a worker thread reach /ticks clients', async (t) => {
  const { url } = await run(t, 'worker-producer.js');
  const ws = await connect(url + '/ticks');
  const [m] = await next(ws, 'message', () => true, 5000);
  assert.equal(typeof JSON.parse(m.toString()).tick, 'number');
  ws.close();
});
