// Test helpers: start a server on a free loopback port, open real `ws` clients, wait for
// events with a deadline (so a broken server fails the test instead of hanging it).
'use strict';
const net = require('node:net');
const WebSocket = require('ws');
const { Server } = require('..');

const started = new Set();

/** Closes every server a test started (a failed assertion must not leave the test
 * process hanging on a live server). */
function closeAll() {
  return Promise.all([...started].map((s) => s.close(200)));
}

// The suite runs once per event path (test.sh): by default one driven loop on the JS
// thread; WEBSOCK_TEST_LOOPS=2 with WEBSOCK_NODE_EVENTS=poll gives two loop threads.
const LOOPS = process.env.WEBSOCK_TEST_LOOPS ? Number(process.env.WEBSOCK_TEST_LOOPS) : undefined;

async function startServer(opts = {}) {
  const server = new Server({ host: '127.0.0.1', port: 0, loops: LOOPS, ...opts });
  started.add(server);
  const { port } = await server.listen();
  return { server, port, url: `ws://127.0.0.1:${port}` };
}

function within(ms, what, p) {
  let t;
  return Promise.race([
    p.finally(() => clearTimeout(t)),
    new Promise((_, rej) => { t = setTimeout(() => rej(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms); }),
  ]);
}

/** Resolves with the args of the next `event` on `emitter` for which `pred` holds. */
function next(emitter, event, pred = () => true, ms = 5000) {
  return within(ms, event, new Promise((resolve) => {
    const f = (...args) => {
      if (!pred(...args)) return;
      emitter.off(event, f);
      resolve(args);
    };
    emitter.on(event, f);
  }));
}

/** An open `ws` client (rejects on an HTTP refusal). */
function connect(url, protocols, options) {
  const ws = new WebSocket(url, protocols, options);
  return within(5000, 'client open', new Promise((resolve, reject) => {
    ws.once('open', () => resolve(ws));
    ws.once('unexpected-response', (_req, res) => reject(Object.assign(new Error(`HTTP ${res.statusCode}`), { status: res.statusCode, res })));
    ws.once('error', reject);
  }));
}

/** The status line and body of a raw HTTP request (for bad-input checks). */
function rawHttp(port, text, closeOn) {
  return within(5000, 'raw HTTP answer', new Promise((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1', () => s.write(text));
    let buf = '';
    s.setEncoding('latin1');
    s.on('data', (d) => {
      buf += d;
      // A 101 keeps the socket open: stop once the head is complete.
      if (closeOn === 101 && buf.includes('\r\n\r\n')) { s.destroy(); resolve(buf); }
    });
    s.on('end', () => resolve(buf));
    s.on('close', () => resolve(buf));
    s.on('error', reject);
  }));
}

function closed(ws) {
  if (ws.readyState === WebSocket.CLOSED) return Promise.resolve([ws._closeCode, '']);
  return within(5000, 'client close', new Promise((resolve) => ws.once('close', (code, reason) => resolve([code, reason.toString()]))));
}

module.exports = { LOOPS, closeAll, startServer, next, connect, rawHttp, closed, within, WebSocket };
