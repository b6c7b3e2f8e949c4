// TLS through the Node binding: a self-signed certificate made at test time with
// `openssl req -x509`, a `wss://` round trip with the real `ws` client trusting that
// certificate as its CA (the chain and the IP address are verified, not skipped), plus the
// failures that show TLS is really on: a client without the CA is refused by its own
// verification, and a plain `ws://` client gets no upgrade.
'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { execFileSync } = require('node:child_process');
const { startServer, next, connect, closed, within, WebSocket } = require('./helpers');
const { closeAll } = require('./helpers');
test.after(closeAll);

function selfSigned() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'websock-node-tls-'));
  const key = path.join(dir, 'key.pem');
  const cert = path.join(dir, 'cert.pem');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
    '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=localhost',
    '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1'], { stdio: 'ignore' });
  const out = { cert: fs.readFileSync(cert), key: fs.readFileSync(key, 'utf8') };
  fs.rmSync(dir, { recursive: true, force: true });
  return out;
}

test('TLS: wss round trip (text, binary, compressed) with a verified self-signed certificate', async () => {
  const { cert, key } = selfSigned();
  // cert as a Buffer, key as a string: both PEM forms are accepted.
  const { server, port } = await startServer({ tls: { cert, key }, compression: 'shared' });
  server.on('message', (conn, data) => conn.send(data));
  const url = `wss://127.0.0.1:${port}/secure?x=1`;
  const opened = next(server, 'open');
  const ws = await connect(url, [], { ca: cert });
  const [conn, req] = await opened;
  assert.equal(req.path, '/secure');
  assert.equal(ws._socket.encrypted, true);
  assert.equal(ws._socket.authorized, true, 'the chain was verified against our CA');
  ws.send('over tls');
  assert.equal((await next(ws, 'message'))[0].toString(), 'over tls');
  const big = Buffer.alloc(300_000);
  for (let i = 0; i < big.length; i++) big[i] = (i * 7) & 0xff;
  ws.send(big);
  const [back, isBinary] = await next(ws, 'message');
  assert.equal(isBinary, true);
  assert.ok(back.equals(big));
  const long = 'tls and deflate '.repeat(4000);
  ws.send(long);
  assert.equal((await next(ws, 'message'))[0].toString(), long);
  assert.equal(req.permessageDeflate, true);
  conn.close(4000, 'tls bye');
  assert.deepEqual(await closed(ws), [4000, 'tls bye']);
  await server.close();
});

test('TLS: a client that does not trust the certificate fails; plain ws:// gets no upgrade', async () => {
  const { cert, key } = selfSigned();
  const { server, port } = await startServer({ tls: { cert, key } });
  let opens = 0;
  server.on('open', () => { opens++; });
  await assert.rejects(connect(`wss://127.0.0.1:${port}`), /self[- ]signed/i);
  const plain = new WebSocket(`ws://127.0.0.1:${port}`);
  await within(5000, 'plain client failure', new Promise((resolve) => {
    plain.once('error', resolve);
    plain.once('unexpected-response', resolve);
  }));
  assert.notEqual(plain.readyState, WebSocket.OPEN);
  plain.terminate();
  assert.equal(opens, 0);
  await server.close();
});
