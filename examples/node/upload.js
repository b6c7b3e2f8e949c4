// @ts-check
// File upload: a client sends a text header {"name", "size"}, then binary chunks; the
// server appends them to a file in a temp folder, answers progress, and "done" with a
// SHA-256 once `size` bytes arrived. Large messages are fine (limits.maxMessageSize).
// Run: node examples/node/upload.js [port]
'use strict';
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const crypto = require('node:crypto');
const { Server } = require('websock');

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'websock-upload-'));
/** @typedef {{ fd: number, name: string, size: number, got: number, hash: crypto.Hash }} Upload */
/** @type {Map<number, Upload>} */
const uploads = new Map();

const server = new Server({
  port: Number(process.argv[2] || process.env.PORT || 8082),
  limits: { maxMessageSize: 16 << 20 },
});

server.on('message', (conn, data, isText) => {
  const up = uploads.get(conn.id);
  if (isText) {
    if (up) return void conn.close(1008, 'upload already in progress');
    const h = JSON.parse(String(data));
    const name = path.basename(String(h.name || 'file'));
    const size = Number(h.size);
    if (!Number.isSafeInteger(size) || size < 0) return void conn.close(1008, 'bad size');
    const fd = fs.openSync(path.join(dir, name), 'w');
    uploads.set(conn.id, { fd, name, size, got: 0, hash: crypto.createHash('sha256') });
    conn.send(JSON.stringify({ ready: name }));
    if (size === 0) finish(conn);
    return;
  }
  if (!up) return void conn.close(1008, 'send the header first');
  const chunk = /** @type {Buffer} */ (data);
  fs.writeSync(up.fd, chunk);
  up.hash.update(chunk);
  up.got += chunk.length;
  if (up.got > up.size) return void conn.close(1009, 'more than announced');
  conn.send(JSON.stringify({ progress: up.got }));
  if (up.got === up.size) finish(conn);
});

/** @param {import('websock').Connection} conn */
function finish(conn) {
  const up = uploads.get(conn.id);
  if (!up) return;
  fs.closeSync(up.fd);
  uploads.delete(conn.id);
  conn.send(JSON.stringify({ done: path.join(dir, up.name), bytes: up.got, sha256: up.hash.digest('hex') }));
}

server.on('close', (conn) => {
  const up = uploads.get(conn.id);
  if (up) {
    fs.closeSync(up.fd);
    uploads.delete(conn.id);
  }
});

server.listen().then(({ port }) => console.log(`upload to ws://127.0.0.1:${port}/ ; files go to ${dir}`));
process.once('SIGINT', () => { server.close(); });
