// Real-browser tests of the chat demo (examples/chat): Debian's Chromium, headless, driven by
// playwright-core, talks to the real `websock-chat` binary over loopback. Each test opens its
// own pages (one page = one person) with fresh nicknames in a room of its own, types into the
// page's form like a person would and reads the page's log (the DOM), so what is checked is
// the whole path: the server's HTTP page, the browser's WebSocket client, the server's rooms.
// permessage-deflate is checked twice over: the handshake the browser saw (CDP) and the RSV1
// bit of the frames on the wire, seen by a small pass-through TCP proxy in this file.
//
// Run with `node --test` (test.sh builds the server and installs the browser first). A missing
// browser or server binary is a failure, never a skip.

import { test, describe, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(HERE, '..', '..');
const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
const CHAT_BIN = process.env.CHAT_BIN || path.join(ROOT, 'target', 'release', 'websock-chat');
// The flags the machine notes say Chromium needs here as root on a closed network: without the
// background-networking ones it keeps trying (and failing) to reach Google's hosts.
const CHROMIUM_ARGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
];
const WAIT = 10_000; // ms for anything the page should show; loopback answers in far less

// ---------------------------------------------------------------------------------------------
// The server and the browser

/** A port the kernel just handed out and took back; the chat server binds it right after. */
function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

/** Starts the chat binary on a free port; resolves once it prints that it listens. */
async function startChat() {
  if (!fs.existsSync(CHAT_BIN)) {
    throw new Error(`chat server binary missing: ${CHAT_BIN} (cargo build --release -p websock-chat)`);
  }
  const port = await freePort();
  const child = spawn(CHAT_BIN, [], {
    env: { ...process.env, CHAT_ADDR: `127.0.0.1:${port}` },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`chat server did not start:\n${output}`)), WAIT);
    const onData = (d) => {
      output += d;
      if (output.includes('chat: open http://')) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`chat server exited early (${code}):\n${output}`));
    });
  });
  return {
    port,
    url: `http://127.0.0.1:${port}/`,
    child,
    exited,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      return exited;
    },
  };
}

/** Chromium with a new, empty profile directory of its own, removed again by close(). */
async function launchBrowser() {
  if (!fs.existsSync(CHROMIUM)) {
    // Deliberately a failure: a suite that skips without its browser proves nothing.
    throw new Error(`no browser at ${CHROMIUM}: apt-get install chromium (tests/browser/test.sh does)`);
  }
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'websock-browser-profile-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: CHROMIUM_ARGS,
  });
  return {
    context,
    async close() {
      await context.close();
      fs.rmSync(profile, { recursive: true, force: true });
    },
  };
}

// ---------------------------------------------------------------------------------------------
// One person = one page

/** The texts of the page's log lines, in order. */
const logLines = (page) => page.locator('#log > div').allTextContents();

/** Waits until a log line (optionally of one class: say, private, system) contains `text`. */
async function seen(page, text, kind) {
  const sel = kind ? `#log > div.${kind}` : '#log > div';
  await page.locator(sel, { hasText: text }).first().waitFor({ timeout: WAIT });
}

/** Types a line into the page's form and submits it, as a person would. */
async function say(page, text) {
  await page.fill('#text', text);
  await page.press('#text', 'Enter');
}

/** Opens the chat page, waits for 'connected', takes a nickname and enters a room. */
async function openPerson(context, url, nick, room, hook) {
  const page = await context.newPage();
  if (hook) await hook(page);
  await page.goto(url);
  await page.locator('#status', { hasText: 'connected' }).waitFor({ timeout: WAIT });
  await seen(page, 'you are guest', 'system');
  await say(page, `/nick ${nick}`);
  await seen(page, `is now ${nick}`, 'system');
  await say(page, `/join ${room}`);
  await seen(page, `${nick} joined`, 'system');
  assert.equal(await page.textContent('#room'), room);
  return page;
}

/**
 * Memoizes an async setup. Tests await it themselves (rather than a `before` hook doing it) so
 * that a setup error, such as a missing browser, FAILS every test: node:test reports a failed
 * hook as "cancelled", which reads like nothing went wrong.
 */
function once(fn) {
  let p;
  return () => (p ??= fn());
}

let uniq = 0;
/** Names unique to this run, so tests sharing a server never meet. */
const fresh = (base) => `${base}${process.pid % 1000}x${++uniq}`;

// ---------------------------------------------------------------------------------------------
// A pass-through TCP proxy that reads the WebSocket frame headers going by

/**
 * Forwards loopback TCP to `targetPort` untouched. On connections whose first request line is
 * `GET /chat`, it parses the frames after the HTTP handshake in both directions and records
 * {dir, rsv1, opcode, len} of each: the only way to see that a frame really was compressed,
 * since the browser (and CDP) show payloads after inflating them.
 */
async function startFrameProxy(targetPort) {
  const frames = [];
  const sockets = new Set();
  const server = net.createServer((client) => {
    const upstream = net.connect(targetPort, '127.0.0.1');
    sockets.add(client).add(upstream);
    let isChat = null; // decided by the first request line
    const toServer = frameReader('client->server', frames);
    const toClient = frameReader('server->client', frames);
    client.on('data', (d) => {
      if (isChat === null) isChat = d.toString('latin1').startsWith('GET /chat');
      if (isChat) toServer(d);
      upstream.write(d);
    });
    upstream.on('data', (d) => {
      if (isChat) toClient(d);
      client.write(d);
    });
    const end = () => { client.destroy(); upstream.destroy(); };
    client.on('close', end).on('error', end);
    upstream.on('close', end).on('error', end);
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: server.address().port,
    frames,
    close: () => new Promise((resolve) => {
      for (const s of sockets) s.destroy();
      server.close(resolve);
    }),
  };
}

/** Incremental parser of one direction: skips the HTTP head, then reads RFC 6455 frame headers. */
function frameReader(dir, out) {
  let buf = Buffer.alloc(0);
  let inHttp = true;
  let skip = 0; // payload bytes of the current frame still to pass over
  let cur = null; // server->client data frame whose payload (unmasked) is being kept
  return (chunk) => {
    buf = Buffer.concat([buf, chunk]);
    for (;;) {
      if (inHttp) {
        const i = buf.indexOf('\r\n\r\n');
        if (i < 0) return;
        buf = buf.subarray(i + 4);
        inHttp = false;
      }
      if (skip > 0) {
        const n = Math.min(skip, buf.length);
        if (cur) cur.chunks.push(buf.subarray(0, n));
        buf = buf.subarray(n);
        skip -= n;
        if (skip > 0) return;
      }
      if (cur) {
        cur.frame.payload = Buffer.concat(cur.chunks);
        cur = null;
      }
      if (buf.length < 2) return;
      const b0 = buf[0];
      const b1 = buf[1];
      let len = b1 & 0x7f;
      let off = 2;
      if (len === 126) {
        if (buf.length < 4) return;
        len = buf.readUInt16BE(2);
        off = 4;
      } else if (len === 127) {
        if (buf.length < 10) return;
        len = Number(buf.readBigUInt64BE(2));
        off = 10;
      }
      if (b1 & 0x80) off += 4; // mask key
      if (buf.length < off) return;
      const frame = { dir, fin: !!(b0 & 0x80), rsv1: !!(b0 & 0x40), opcode: b0 & 0x0f, len, masked: !!(b1 & 0x80) };
      out.push(frame);
      buf = buf.subarray(off);
      skip = len;
      if (!frame.masked && frame.opcode === 1) {
        if (len === 0) frame.payload = Buffer.alloc(0);
        else cur = { frame, chunks: [] };
      }
    }
  };
}

// ---------------------------------------------------------------------------------------------
// The tests

describe('chat demo in headless Chromium', () => {
  let chat;
  let browser;
  const ready = once(async () => {
    chat = await startChat();
    browser = await launchBrowser();
  });

  after(async () => {
    if (browser) await browser.close();
    if (chat) await chat.stop();
  });

  test('the server serves its page, and the page connects its WebSocket', async () => {
    await ready();
    const page = await browser.context.newPage();
    const resp = await page.goto(chat.url);
    assert.equal(resp.status(), 200);
    assert.match(resp.headers()['content-type'], /^text\/html/);
    assert.equal(await page.title(), 'websock chat');
    await page.locator('#status', { hasText: 'connected' }).waitFor({ timeout: WAIT });
    assert.equal(await page.textContent('#status'), 'connected');
    await seen(page, 'joined', 'system');
    assert.equal(await page.textContent('#room'), 'lobby');
    const missing = await page.goto(new URL('/nope', chat.url).href);
    assert.equal(missing.status(), 404);
    await page.close();
  });

  test('two people in one room see each other\'s messages', async () => {
    await ready();
    const room = fresh('r');
    const [a, b] = [fresh('alice'), fresh('bob')];
    const pa = await openPerson(browser.context, chat.url, a, room);
    const pb = await openPerson(browser.context, chat.url, b, room);
    await seen(pa, `${b} joined (2 here)`, 'system');

    await say(pa, 'hello from alice');
    await seen(pb, 'hello from alice', 'say');
    await say(pb, 'hi alice, bob here');
    await seen(pa, 'hi alice, bob here', 'say');
    // The sender's line comes back to the sender too, with who said it.
    const la = await logLines(pa);
    assert.ok(la.includes(`${a}:hello from alice`), la.join('\n'));
    assert.ok(la.includes(`${b}:hi alice, bob here`), la.join('\n'));
    const lb = await logLines(pb);
    assert.ok(lb.includes(`${a}:hello from alice`), lb.join('\n'));

    // Text the page must not interpret as markup arrives as text.
    await say(pa, '<b>not bold</b> & "quoted" \\ ünïcödé ✓');
    await seen(pb, '<b>not bold</b> & "quoted" \\ ünïcödé ✓', 'say');
    assert.equal(await pb.locator('#log b').count(), 0);

    await say(pb, '/who');
    await seen(pb, `2 in ${room}`, 'system');
    await pa.close();
    await pb.close();
  });

  test('a room change isolates messages', async () => {
    await ready();
    const [roomA, roomB] = [fresh('ra'), fresh('rb')];
    const [a, b] = [fresh('alice'), fresh('bob')];
    const pa = await openPerson(browser.context, chat.url, a, roomA);
    const pb = await openPerson(browser.context, chat.url, b, roomA);
    await seen(pa, `${b} joined (2 here)`, 'system');

    await say(pb, `/join ${roomB}`);
    await seen(pa, `${b} left`, 'system');
    await seen(pb, `${b} joined (1 here)`, 'system');
    assert.equal(await pb.textContent('#room'), roomB);

    await say(pb, 'only-in-B');
    await seen(pb, 'only-in-B', 'say'); // the server has sent it to room B by now
    await say(pa, 'only-in-A');
    await seen(pa, 'only-in-A', 'say');
    // Barrier: alice's join comes after her room-A line on the same connection, so once bob
    // sees the join, a leaked room-A line would already be in his log.
    await say(pa, `/join ${roomB}`);
    await seen(pb, `${a} joined (2 here)`, 'system');
    await say(pa, 'now-both-in-B');
    await seen(pb, 'now-both-in-B', 'say');

    const lb = (await logLines(pb)).join('\n');
    assert.ok(!lb.includes('only-in-A'), `bob saw a room-A line:\n${lb}`);
    const la = (await logLines(pa)).join('\n');
    assert.ok(!la.includes('only-in-B'), `alice saw a room-B line before joining:\n${la}`);
    await pa.close();
    await pb.close();
  });

  test('a private /msg reaches only its addressee', async () => {
    await ready();
    const room = fresh('rp');
    const [a, b, c] = [fresh('alice'), fresh('bob'), fresh('carol')];
    const pa = await openPerson(browser.context, chat.url, a, room);
    const pb = await openPerson(browser.context, chat.url, b, room);
    const pc = await openPerson(browser.context, chat.url, c, room);
    await seen(pa, `${c} joined (3 here)`, 'system');

    await say(pa, `/msg ${b} psst, secret-4711`);
    await seen(pb, 'psst, secret-4711', 'private');
    const privB = await pb.locator('#log > div.private').allTextContents();
    assert.deepEqual(privB, [`${a} (private):psst, secret-4711`]);
    // The sender gets a copy saying to whom.
    await seen(pa, `(to ${b}) psst, secret-4711`, 'private');

    // Barrier for carol: a room line alice sends after the private one.
    await say(pa, 'after the secret');
    await seen(pc, 'after the secret', 'say');
    const lc = (await logLines(pc)).join('\n');
    assert.ok(!lc.includes('secret-4711'), `carol saw the private message:\n${lc}`);
    assert.equal(await pc.locator('#log > div.private').count(), 0);

    // A private message to nobody is refused, to the sender only.
    await say(pa, `/msg ${fresh('nobody')} hello?`);
    await seen(pa, 'nobody called', 'system');
    await pa.close();
    await pb.close();
    await pc.close();
  });

  test('closing a page announces "left" to the room', async () => {
    await ready();
    const room = fresh('rc');
    const [a, b] = [fresh('alice'), fresh('bob')];
    const pa = await openPerson(browser.context, chat.url, a, room);
    const pb = await openPerson(browser.context, chat.url, b, room);
    await seen(pa, `${b} joined (2 here)`, 'system');
    await pb.close();
    await seen(pa, `${b} left`, 'system');
    await say(pa, '/who');
    await seen(pa, `1 in ${room}`, 'system');
    await pa.close();
  });

  test('permessage-deflate: negotiated with the browser, long messages compressed both ways', async () => {
    await ready();
    const proxy = await startFrameProxy(chat.port);
    try {
      const url = `http://127.0.0.1:${proxy.port}/`;
      // CDP shows the handshake as the browser saw it.
      const handshakes = [];
      const watch = async (page) => {
        const cdp = await browser.context.newCDPSession(page);
        await cdp.send('Network.enable');
        cdp.on('Network.webSocketWillSendHandshakeRequest', (e) => handshakes.push({ kind: 'request', headers: e.request.headers }));
        cdp.on('Network.webSocketHandshakeResponseReceived', (e) => handshakes.push({ kind: 'response', status: e.response.status, headers: e.response.headers }));
      };
      const room = fresh('rz');
      const [a, b] = [fresh('alice'), fresh('bob')];
      const pa = await openPerson(browser.context, url, a, room, watch);
      const pb = await openPerson(browser.context, url, b, room, watch);

      const header = (h, name) => Object.entries(h).find(([k]) => k.toLowerCase() === name)?.[1];
      const responses = handshakes.filter((h) => h.kind === 'response');
      assert.equal(responses.length, 2, JSON.stringify(handshakes));
      for (const r of responses) {
        assert.equal(r.status, 101);
        assert.match(header(r.headers, 'sec-websocket-extensions') ?? '', /^permessage-deflate\b/, JSON.stringify(r.headers));
      }
      for (const r of handshakes.filter((h) => h.kind === 'request')) {
        assert.match(header(r.headers, 'sec-websocket-extensions') ?? '', /permessage-deflate/);
      }

      // Over 128 bytes, with non-ASCII text so inflate mistakes would show.
      const long = `long line ${'0123456789abcdef'.repeat(20)} — ünïcödé ✓ end-${fresh('z')}`;
      assert.ok(Buffer.byteLength(long) > 300);
      const before = proxy.frames.length;
      await say(pa, long);
      await seen(pb, long, 'say');
      assert.ok((await logLines(pb)).includes(`${a}:${long}`));
      await seen(pa, long, 'say');

      // Data frames (text=1) seen on the wire after the long line was typed.
      const data = proxy.frames.slice(before).filter((f) => f.opcode === 1);
      const up = data.filter((f) => f.dir === 'client->server');
      const down = data.filter((f) => f.dir === 'server->client');
      assert.equal(up.length, 1, JSON.stringify(data));
      assert.ok(up[0].rsv1 && up[0].masked, `browser did not compress: ${JSON.stringify(up[0])}`);
      assert.ok(up[0].len < Buffer.byteLength(long), 'compressed frame should be smaller than the text');
      assert.equal(down.length, 2, JSON.stringify(data)); // one to each page
      for (const f of down) {
        assert.ok(f.rsv1 && !f.masked, `server did not compress: ${JSON.stringify(f)}`);
        assert.ok(f.len < Buffer.byteLength(long), 'compressed frame should be smaller than the text');
      }

      // Below the 128-byte threshold the server sends plain frames.
      const mark = proxy.frames.length;
      await say(pa, 'short');
      await seen(pb, `${a}:short`, 'say');
      const shortDown = proxy.frames.slice(mark).filter((f) => f.opcode === 1 && f.dir === 'server->client');
      assert.equal(shortDown.length, 2, JSON.stringify(shortDown));
      for (const f of shortDown) assert.ok(!f.rsv1, `short frame compressed: ${JSON.stringify(f)}`);

      // Several compressed messages in a row keep arriving intact. Each one is
      // sync-flushed, never a complete stream ending in a final block (clients such as
      // OkHttp loop forever on those): the payload plus 00 00 ff ff inflates on its own
      // (shared mode keeps no context) and does not end the stream.
      const mark2 = proxy.frames.length;
      for (let i = 0; i < 5; i++) await say(pb, `${long} #${i}`);
      for (let i = 0; i < 5; i++) await seen(pa, `${long} #${i}`, 'say');
      for (let i = 0; i < 5; i++) await seen(pb, `${long} #${i}`, 'say');
      const rowDown = proxy.frames.slice(mark2).filter((f) => f.opcode === 1 && f.dir === 'server->client');
      assert.equal(rowDown.length, 10, JSON.stringify(rowDown));
      for (const f of rowDown) {
        assert.ok(f.rsv1 && f.payload, `server did not compress: ${JSON.stringify(f)}`);
        // Alone, the payload is an unfinished stream (a complete one would inflate).
        assert.throws(() => zlib.inflateRawSync(f.payload), /unexpected end of file/);
        const tail = Buffer.from([0x00, 0x00, 0xff, 0xff]);
        const text = zlib
          .inflateRawSync(Buffer.concat([f.payload, tail]), { finishFlush: zlib.constants.Z_SYNC_FLUSH })
          .toString();
        assert.match(text, /long line .* #[0-4]/);
      }
      await pa.close();
      await pb.close();
    } finally {
      await proxy.close();
    }
  });
});

describe('server going away, seen by the page', () => {
  let browser;
  const ready = once(async () => { browser = await launchBrowser(); });
  after(async () => { if (browser) await browser.close(); });

  test('SIGTERM shuts the server down gracefully: the page sees 1001', async () => {
    await ready();
    const chat = await startChat();
    try {
      const page = await browser.context.newPage();
      await page.goto(chat.url);
      await page.locator('#status', { hasText: 'connected' }).waitFor({ timeout: WAIT });
      await seen(page, 'you are guest', 'system');
      chat.child.kill('SIGTERM');
      const { code, signal } = await chat.exited;
      assert.equal(signal, null);
      assert.equal(code, 0, 'the demo exits cleanly after its graceful shutdown');
      await page.locator('#status', { hasText: 'disconnected' }).waitFor({ timeout: WAIT });
      // The server closed with 1001 (going away) before exiting.
      assert.equal(await page.textContent('#status'), 'disconnected (1001)');
      await page.close();
    } finally {
      await chat.stop();
    }
  });
});
