// websock for Node.js: the public API (Server, Connection, Request, remote handles for
// worker_threads) over the small native layer in ../native (napi-rs, src/lib.rs).
//
// Events arrive from native code in batches: one flat array per call (see src/lib.rs,
// `Batch`; by default the JS thread turns the core's loop itself and gets each turn's
// events), which `_dispatch` turns back into EventEmitter `emit`s. A
// listener that throws does not lose the rest of the batch (close events must stay paired
// with opens); the first error is rethrown on the next tick, so it surfaces as an
// ordinary uncaught exception, as it would with `ws`.
'use strict';

const { EventEmitter } = require('node:events');
const native = require('../native/index.js');

// Event kinds of a batch (must match src/lib.rs).
const K_TEXT = 0;
const K_BINARY = 1;
const K_OPEN = 2;
const K_CLOSE = 3;
const K_DRAIN = 4;
const K_UPGRADE = 5;
const K_SHUTDOWN = 6;
const K_BINARY_PACKED = 7; // payload = batch[0] (the batch's pool Buffer) [start, end)

const CONNECTING = 0;
const OPEN = 1;
const CLOSING = 2;
const CLOSED = 3;
const EMPTY = Object.freeze([]);

/** Native errors come as "[kind] message"; give them a stable `code` (ERR_WEBSOCK_KIND). */
function wrapError(e) {
  if (e && typeof e.message === 'string') {
    const m = /^\[([a-z_]+)\] (.*)$/s.exec(e.message);
    if (m) {
      const err = m[1] === 'invalid_argument' ? new TypeError(m[2]) : new Error(m[2]);
      err.code = 'ERR_WEBSOCK_' + m[1].toUpperCase();
      return err;
    }
  }
  return e;
}

function call(fn) {
  try {
    return fn();
  } catch (e) {
    throw wrapError(e);
  }
}

/** string → text frame; Buffer / TypedArray / DataView / ArrayBuffer → binary frame. */
/** `send` is a handle's `sender()`: a plain native function (src/raw_send.rs), cheaper
 * per call than a method of the native class. */
function sendVia(send, id, data) {
  return send(id, typeof data === 'string' || ArrayBuffer.isView(data) ? data : toBytes(data));
}

function toBytes(data) {
  if (Buffer.isBuffer(data)) return data;
  if (ArrayBuffer.isView(data)) return Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  if (data instanceof ArrayBuffer || data instanceof SharedArrayBuffer) return Buffer.from(data);
  throw new TypeError('data must be a string, Buffer, TypedArray, DataView or ArrayBuffer');
}

function checkTag(tag) {
  if (typeof tag !== 'string') throw new TypeError('tag must be a string');
  return tag;
}

function checkCode(code) {
  if (!Number.isInteger(code)) throw new TypeError('close code must be an integer');
  return code;
}

/** `{name: value}`, `[[name, value]]` or a flat array → flat [name, value, …] strings. */
function flatHeaders(h) {
  if (h == null) return undefined;
  const out = [];
  if (Array.isArray(h)) {
    for (const p of h) {
      if (!Array.isArray(p) || p.length !== 2) throw new TypeError('headers must be [name, value] pairs');
      out.push(String(p[0]), String(p[1]));
    }
  } else if (typeof h === 'object') {
    for (const k of Object.keys(h)) {
      const v = h[k];
      if (Array.isArray(v)) for (const x of v) out.push(k, String(x));
      else out.push(k, String(v));
    }
  } else {
    throw new TypeError('headers must be an object or an array of pairs');
  }
  return out;
}

// Idle connections keep their request's path and peer address; most connections share a
// few of each, so equal strings are shared (a bounded cache) instead of kept once per
// connection: ~60 B per idle connection (the budget is 1 KB including the core).
const interned = new Map();
function intern(s) {
  const hit = interned.get(s);
  if (hit !== undefined) return hit;
  if (interned.size >= 4096) interned.clear();
  interned.set(s, s);
  return s;
}

/** The HTTP upgrade request: path, query, headers (lower-case names), subprotocol, peer. */
class Request {
  constructor(path, query, remoteAddress, remotePort, subprotocol, flatHeaders, clientIp, extensions) {
    // Kept small on purpose: an idle connection holds this object (see src/lib.rs). The
    // four fields below are usually null, so they are set only when not (the prototype
    // holds the nulls): each field set on every instance costs 8 B per connection.
    this.path = intern(path);
    this.query = query;
    this.remoteAddress = intern(remoteAddress);
    this.remotePort = remotePort;
    if (subprotocol !== null) this.subprotocol = subprotocol;
    if (flatHeaders !== null) this._f = flatHeaders;
    if (clientIp !== null) this._ip = clientIp;
    if (extensions !== null) this.extensions = intern(extensions);
  }
  /** Was permessage-deflate negotiated for this connection? */
  get permessageDeflate() { return this.extensions !== null && this.extensions.startsWith('permessage-deflate'); }
  /** Always GET: the core refuses other methods before an upgrade. */
  get method() { return 'GET'; }
  /** Path plus `?query`, as sent (the name `url` matches Node's IncomingMessage). */
  get url() { return this.query === '' ? this.path : this.path + '?' + this.query; }
  /** Header names are lower-case; repeated headers are joined with ", ". In the upgrade
   * hook every header is here; afterwards only those kept with `keepHeaders`. */
  get headers() {
    const h = Object.create(null);
    const flat = this._f || EMPTY;
    for (let i = 0; i < flat.length; i += 2) {
      const n = flat[i];
      h[n] = n in h ? h[n] + ', ' + flat[i + 1] : flat[i + 1];
    }
    return h;
  }
  /** Flat [name, value, …] in request order. */
  get rawHeaders() { return (this._f || EMPTY).slice(); }
  header(name) {
    const v = this.headers[String(name).toLowerCase()];
    return v === undefined ? undefined : v;
  }
  cookie(name) {
    const flat = this._f || EMPTY;
    for (let i = 0; i < flat.length; i += 2) {
      if (flat[i] !== 'cookie') continue;
      for (const part of flat[i + 1].split(';')) {
        const eq = part.indexOf('=');
        if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
      }
    }
    return undefined;
  }
  /** Offered subprotocols, in the client's order (from the header: all in the hook). */
  get offeredSubprotocols() {
    const out = [];
    const flat = this._f || EMPTY;
    for (let i = 0; i < flat.length; i += 2) {
      if (flat[i] !== 'sec-websocket-protocol') continue;
      for (const p of flat[i + 1].split(',')) if (p.trim() !== '') out.push(p.trim());
    }
    return out;
  }
  /** The client's address: the peer, or what a trusted proxy forwarded for. */
  get clientIp() { return this._ip === null ? this.remoteAddress : this._ip; }
}

/** The negotiated subprotocol (null in the upgrade hook and when none was agreed). */
Request.prototype.subprotocol = null;
/** The extensions the server agreed to (its 101's Sec-WebSocket-Extensions, e.g.
 * `permessage-deflate; server_no_context_takeover; client_no_context_takeover`), or null
 * (always null in the upgrade hook: nothing is agreed yet). */
Request.prototype.extensions = null;
Request.prototype._f = null; // flat kept headers; null when none is kept
Request.prototype._ip = null; // client IP when it is not remoteAddress

/** One WebSocket connection. Valid until its `close` event; afterwards sends return false. */
class Connection {
  constructor(server, id, request, data) {
    this.server = server;
    /** A number naming this connection in every thread (workers can send to it): the
     * core id itself, exact (core ids are below 2^53). */
    this.id = id;
    this.request = request;
    // `data` (what the upgrade hook accepted with) is on the prototype (undefined) unless
    // given: 8 B less per idle connection.
    if (data !== undefined) this.data = data;
    this.readyState = OPEN;
  }
  /** Queues a message (string → text, bytes → binary). Never blocks. Returns false when the
   * connection is gone. Watch `bufferedAmount` and the `drain` event for backpressure. */
  send(data) {
    if (this.readyState === CLOSED) return false;
    const out = this.server._out;
    if (out !== null) {
      // Inside a dispatch call with sendBatch: queued with the batch's other replies.
      out.push(this.id, typeof data === 'string' ? data : toBytes(data));
      return true;
    }
    try {
      return sendVia(this.server._send, this.id, data);
    } catch (e) {
      throw wrapError(e);
    }
  }
  ping(data = Buffer.alloc(0)) {
    this.server._flush();
    return call(() => this.server._h.ping(this.id, toBytes(typeof data === 'string' ? Buffer.from(data) : data)));
  }
  /** Starts the closing handshake (1000-1003, 1007-1014, 3000-4999). */
  close(code = 1000, reason = '') {
    this.server._flush();
    const ok = call(() => this.server._h.close(this.id, checkCode(code), String(reason)));
    if (ok && this.readyState === OPEN) this.readyState = CLOSING;
    return ok;
  }
  /** Adds a tag; false if it was already there (or the connection is gone). */
  tag(tag) {
    if (this.readyState === CLOSED) return false;
    return call(() => this.server._h.tag(this.id, checkTag(tag))) === 1;
  }
  untag(tag) {
    return call(() => this.server._h.untag(this.id, checkTag(tag))) === 1;
  }
  /** The tags, in the order they were added. */
  get tags() { return this.server._h.tags(this.id); }
  /** Bytes queued for this connection and not yet written to the socket. */
  get bufferedAmount() { return this.server._h.bufferedAmount(this.id); }
  get isOpen() { return this.readyState === OPEN; }
  get remoteAddress() { return this.request.remoteAddress; }
}
/** What the upgrade hook returned as `data` (e.g. the authenticated user). */
Connection.prototype.data = undefined;
Connection.CONNECTING = CONNECTING;
Connection.OPEN = OPEN;
Connection.CLOSING = CLOSING;
Connection.CLOSED = CLOSED;

/** Any-thread operations of a running server: what a worker gets from `attach(handleId)`. */
class ServerHandle {
  constructor(h, handleId) {
    this._h = h;
    this._send = h.sender();
    this.handleId = handleId;
  }
  /** Sends to one connection by id. */
  send(id, data) { return call(() => sendVia(this._send, id, data)); }
  close(id, code = 1000, reason = '') { return call(() => this._h.close(id, checkCode(code), String(reason))); }
  tag(id, tag) { return call(() => this._h.tag(id, checkTag(tag))) === 1; }
  untag(id, tag) { return call(() => this._h.untag(id, checkTag(tag))) === 1; }
  tagsOf(id) { return this._h.tags(id); }
  isOpen(id) { return this._h.isLive(id); }
  /** Sends one message to every connection with the tag (the frame is encoded once).
   * Returns how many connections carried the tag. */
  sendByTag(tag, data) {
    checkTag(tag);
    return call(() => (typeof data === 'string' ? this._h.sendTextByTag(tag, data) : this._h.sendBinaryByTag(tag, toBytes(data))));
  }
  /** Sends to every open connection; returns how many were open. */
  broadcast(data) {
    return call(() => (typeof data === 'string' ? this._h.broadcastText(data) : this._h.broadcastBinary(toBytes(data))));
  }
  closeByTag(tag, code = 1000, reason = '') {
    return call(() => this._h.closeByTag(checkTag(tag), checkCode(code), String(reason)));
  }
  countByTag(tag) { return this._h.countByTag(checkTag(tag)); }
  stats() { return this._h.stats(); }
}

/** Attaches to a server of this process from any thread (a worker) by its `handleId`. */
function attach(handleId) {
  if (!Number.isInteger(handleId)) throw new TypeError('handleId must be an integer');
  return new ServerHandle(call(() => native.Handle.attach(handleId)), handleId);
}

function num(v, name) {
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) throw new TypeError(`${name} must be a non-negative number`);
  return v;
}

function strList(v, name) {
  if (v === undefined || v === null) return undefined;
  if (!Array.isArray(v) || v.some((x) => typeof x !== 'string')) throw new TypeError(`${name} must be an array of strings`);
  return v;
}

function pem(v, name) {
  if (typeof v === 'string') return Buffer.from(v);
  if (Buffer.isBuffer(v)) return v;
  throw new TypeError(`tls.${name} must be PEM text (string or Buffer)`);
}

const COMPRESSION_MODES = ['disabled', 'shared', 'dedicated'];

/** `compression: { mode, windowBits, threshold, level, maxDedicated }` (or a mode string)
 * → flat native fields. Ranges (windowBits 9..15, level 1..9) are the core's check. */
function compressionOptions(z, n) {
  if (z === undefined || z === null || z === false) return;
  if (typeof z === 'string') z = { mode: z };
  if (typeof z !== 'object') throw new TypeError("compression must be an object like { mode: 'shared' }");
  const mode = z.mode === undefined ? 'shared' : z.mode;
  if (!COMPRESSION_MODES.includes(mode)) throw new TypeError("compression.mode must be 'disabled', 'shared' or 'dedicated'");
  n.compressionMode = mode;
  if (z.windowBits !== undefined) {
    if (!Number.isInteger(z.windowBits) || z.windowBits < 0) throw new TypeError('compression.windowBits must be an integer (9..15)');
    n.compressionWindowBits = z.windowBits;
  }
  if (mode === 'dedicated' && z.windowBits === undefined) throw new TypeError("compression.windowBits (9..15) is required with mode 'dedicated'");
  n.compressionThreshold = num(z.threshold, 'compression.threshold');
  if (z.level !== undefined) {
    if (!Number.isInteger(z.level) || z.level < 0) throw new TypeError('compression.level must be an integer (1..9)');
    n.compressionLevel = z.level;
  }
  n.compressionMaxDedicated = num(z.maxDedicated, 'compression.maxDedicated');
}

/** Public options → the native layer's flat options. */
function nativeOptions(o, upgradeHook) {
  if (o === null || typeof o !== 'object') throw new TypeError('options must be an object');
  const n = { upgradeHook };
  // How event batches reach JS: 'driven' (default for one loop), 'poll'/'thread' (default
  // for loops > 1) or 'tsfn'; the native layer checks the value (see BENCH-NOTES.md).
  const events = o.events ?? process.env.WEBSOCK_NODE_EVENTS;
  if (events !== undefined && events !== '') {
    if (!['driven', 'poll', 'thread', 'tsfn'].includes(events)) throw new TypeError("events must be 'driven', 'poll', 'thread' or 'tsfn'");
    n.events = events;
  }
  if (o.fd !== undefined) {
    if (!Number.isInteger(o.fd) || o.fd < 0) throw new TypeError('fd must be a descriptor number');
    n.fd = o.fd;
  } else {
    if (o.host !== undefined) {
      if (typeof o.host !== 'string') throw new TypeError('host must be a string');
      n.host = o.host;
    }
    if (o.port !== undefined) {
      if (!Number.isInteger(o.port) || o.port < 0 || o.port > 65535) throw new RangeError('port must be an integer 0-65535');
      n.port = o.port;
    }
  }
  if (o.tls) {
    n.tlsCert = pem(o.tls.cert, 'cert');
    n.tlsKey = pem(o.tls.key, 'key');
  }
  n.origins = strList(o.origins, 'origins');
  n.subprotocols = strList(o.subprotocols, 'subprotocols');
  if (o.keepHeaders === true) n.keepAllHeaders = true;
  else n.keepHeaders = strList(o.keepHeaders, 'keepHeaders');
  n.trustedProxies = strList(o.trustedProxies, 'trustedProxies');
  if (o.loops !== undefined) {
    if (!Number.isInteger(o.loops) || o.loops < 0) throw new TypeError('loops must be a non-negative integer');
    n.loops = o.loops;
  }
  if (o.backlog !== undefined) n.backlog = num(o.backlog, 'backlog');
  if (o.reusePort !== undefined) n.reusePort = Boolean(o.reusePort);
  const l = o.limits || {};
  n.maxMessageSize = num(l.maxMessageSize, 'limits.maxMessageSize');
  n.maxFrameSize = num(l.maxFrameSize, 'limits.maxFrameSize');
  n.maxRequestHead = num(l.maxRequestHead, 'limits.maxRequestHead');
  n.handshakeTimeoutMs = num(l.handshakeTimeout, 'limits.handshakeTimeout');
  n.closeTimeoutMs = num(l.closeTimeout, 'limits.closeTimeout');
  if (o.keepalive === false) {
    n.pingIntervalMs = 0;
    n.idleTimeoutMs = 0;
  } else if (o.keepalive) {
    const k = o.keepalive;
    n.pingIntervalMs = k.pingInterval === null || k.pingInterval === false ? 0 : num(k.pingInterval, 'keepalive.pingInterval');
    n.idleTimeoutMs = k.idleTimeout === null || k.idleTimeout === false ? 0 : num(k.idleTimeout, 'keepalive.idleTimeout');
  }
  const b = o.backpressure || {};
  n.maxBuffered = num(b.maxBuffered, 'backpressure.maxBuffered');
  n.drainThreshold = num(b.drainThreshold, 'backpressure.drainThreshold');
  if (b.policy !== undefined) n.slowConsumer = String(b.policy);
  if (b.closeCode !== undefined) n.slowConsumerCode = checkCode(b.closeCode);
  compressionOptions(o.compression, n);
  for (const k of Object.keys(n)) if (n[k] === undefined) delete n[k];
  return n;
}

/**
 * A WebSocket server. Events: `open` (conn, request), `message` (conn, data, isText) with
 * data a string for text and a Buffer for binary, `close` (conn, code, reason, why),
 * `drain` (conn), `error` (err) for upgrade hooks that failed (only if listened to).
 */
class Server extends EventEmitter {
  constructor(options = {}) {
    super();
    if (options.upgrade !== undefined && typeof options.upgrade !== 'function') throw new TypeError('upgrade must be a function');
    this._upgrade = options.upgrade;
    this._nopts = nativeOptions(options, Boolean(options.upgrade));
    this._closeTimeout = num(options.closeTimeout, 'closeTimeout') ?? 5000;
    this._native = null;
    this._h = null;
    this._send = null;
    this._handle = null;
    /** Open connections by id. */
    this.connections = new Map();
    this._pending = new Map(); // data from the upgrade hook, until `open`
    this._closing = null;
    this._closed = false;
    this._ref = true;
    // sendBatch: replies made during one dispatch call are collected here (flat
    // [id, data, …]) and handed to the core with ONE native call (Server::send_many).
    this._sendBatch = Boolean(options.sendBatch ?? process.env.WEBSOCK_NODE_SEND_BATCH === '1');
    this._out = null;
    this._dispatch = this._dispatch.bind(this);
  }

  /** Binds and starts serving. Resolves with `{ address, port }`. */
  listen() {
    if (this._closed || this._closing) return Promise.reject(Object.assign(new Error('server is closed'), { code: 'ERR_WEBSOCK_SERVER_CLOSED' }));
    if (this._native) return Promise.resolve(this.address());
    try {
      this._native = native.NativeServer.start(this._nopts, this._dispatch);
    } catch (e) {
      return Promise.reject(wrapError(e));
    }
    this._h = native.Handle.attach(this._native.handleId);
    this._handle = new ServerHandle(this._h, this._native.handleId);
    this._send = this._handle._send;
    if (!this._ref) this._native.setRef(false);
    const addr = this.address();
    process.nextTick(() => this.emit('listening', addr));
    return Promise.resolve(addr);
  }

  address() {
    if (!this._native) return null;
    return { address: this._native.address, port: this._native.port };
  }

  get port() { return this._native ? this._native.port : undefined; }

  /** The event path in use: 'driven' (one loop turned on this thread), 'poll' or 'tsfn'. */
  get events() { return this._native ? this._native.events : undefined; }

  /** Pass to a worker; there `attach(handleId)` gives a handle that sends by tag or id. */
  get handleId() { return this._native ? this._native.handleId : undefined; }

  /** Graceful shutdown: stop accepting, close every connection with 1001 (clients see
   * "going away"), wait for queued writes up to `timeout` ms, emit every `close`. The
   * Promise resolves once all is done; the process may then exit. */
  close(timeout = this._closeTimeout) {
    if (this._closing) return this._closing;
    if (!this._native) {
      this._closed = true;
      this._closing = Promise.resolve();
      return this._closing;
    }
    this._closing = new Promise((resolve) => { this._resolveClosed = resolve; });
    this._native.beginShutdown(timeout);
    return this._closing;
  }

  /** Let the process exit while the server runs (like `net.Server#unref`). */
  unref() {
    this._ref = false;
    if (this._native && !this._closed) this._native.setRef(false);
    return this;
  }

  ref() {
    this._ref = true;
    if (this._native && !this._closed) this._native.setRef(true);
    return this;
  }

  /** Hands the replies collected so far in this dispatch call to the core, so that what
   * follows (a close, a sendByTag, …) stays in order after them. */
  _flush() {
    const out = this._out;
    if (out !== null && out.length !== 0) {
      this._out = [];
      this._h.sendMany(out);
    }
  }

  _ops() {
    this._flush();
    if (!this._handle) throw Object.assign(new Error('server is not listening'), { code: 'ERR_WEBSOCK_NOT_LISTENING' });
    return this._handle;
  }

  sendByTag(tag, data) { return this._ops().sendByTag(tag, data); }
  broadcast(data) { return this._ops().broadcast(data); }
  closeByTag(tag, code = 1000, reason = '') { return this._ops().closeByTag(tag, code, reason); }
  countByTag(tag) { return this._ops().countByTag(tag); }
  stats() { return this._ops().stats(); }

  // ----- events from native -----

  /** One batch from native: `[pool, meta, …values]` (src/lib.rs, `batch_to_js`): `meta`
   * (Float64Array) holds kind and id per event (plus start/end in `pool` for small binary
   * payloads, the code for a close); `values` the strings, Buffers and request fields. */
  _dispatch(batch) {
    const conns = this.connections;
    const pool = batch[0];
    const meta = batch[1];
    const n = meta.length;
    let v = 2;
    let err;
    if (this._sendBatch) this._out = [];
    for (let m = 0; m < n;) {
      const kind = meta[m];
      try {
        if (kind === K_BINARY_PACKED) {
          const c = conns.get(meta[m + 1]);
          const start = meta[m + 2];
          const end = meta[m + 3];
          m += 4;
          if (c !== undefined) this.emit('message', c, pool.subarray(start, end), false);
        } else if (kind === K_TEXT || kind === K_BINARY) {
          const c = conns.get(meta[m + 1]);
          const data = batch[v++];
          m += 2;
          if (c !== undefined) this.emit('message', c, data, kind === K_TEXT);
        } else if (kind === K_OPEN) {
          const id = meta[m + 1];
          m += 2;
          const req = new Request(batch[v], batch[v + 1], batch[v + 2], batch[v + 3], batch[v + 4], batch[v + 5], batch[v + 6], batch[v + 7]);
          v += 8;
          let data;
          if (this._pending.size !== 0) {
            data = this._pending.get(id);
            this._pending.delete(id);
          }
          const c = new Connection(this, id, req, data);
          conns.set(id, c);
          this.emit('open', c, req);
        } else if (kind === K_CLOSE) {
          const id = meta[m + 1];
          const code = meta[m + 2];
          m += 3;
          const reason = batch[v];
          const why = batch[v + 1];
          v += 2;
          const c = conns.get(id);
          if (c !== undefined) {
            conns.delete(id);
            c.readyState = CLOSED;
            this.emit('close', c, code, reason, why);
          }
        } else if (kind === K_DRAIN) {
          const c = conns.get(meta[m + 1]);
          m += 2;
          if (c !== undefined) this.emit('drain', c);
        } else if (kind === K_UPGRADE) {
          const id = meta[m + 1];
          m += 2;
          const req = new Request(batch[v], batch[v + 1], batch[v + 2], batch[v + 3], batch[v + 4], batch[v + 5], batch[v + 6], batch[v + 7]);
          v += 8;
          this._runUpgrade(id, req);
        } else if (kind === K_SHUTDOWN) {
          m += 1;
          this._finish();
        } else {
          throw new Error(`websock: unknown event kind ${kind}`);
        }
      } catch (e) {
        if (err === undefined) err = e;
      }
    }
    if (this._out !== null) {
      try {
        this._flush();
      } catch (e) {
        if (err === undefined) err = wrapError(e);
      }
      this._out = null;
    }
    if (err !== undefined) process.nextTick(() => { throw err; });
  }

  _finish() {
    this._closed = true;
    this._pending.clear();
    if (!this._closing) this._closing = Promise.resolve();
    const resolve = this._resolveClosed;
    this._resolveClosed = null;
    if (resolve) resolve();
    this.emit('shutdown');
  }

  // ----- the upgrade hook -----

  _runUpgrade(id, req) {
    let r;
    try {
      r = this._upgrade(req);
    } catch (e) {
      this._decide(id, req, e, true);
      return;
    }
    if (r !== null && typeof r === 'object' && typeof r.then === 'function') {
      r.then((v) => this._decide(id, req, v, false), (e) => this._decide(id, req, e, true));
    } else {
      this._decide(id, req, r, false);
    }
  }

  /**
   * Hook results: `true`/`undefined` accept; `false` → 403; `{ status, body?, headers? }`
   * → that response; `{ subprotocol?, headers?, data? }` → accept with those. A thrown or
   * rejected error with a numeric `status` (400-599) rejects with it and its message;
   * any other error → 500 (and an `error` event when someone listens).
   */
  _decide(id, req, v, failed) {
    const h = this._h;
    if (!h || this._closed) return;
    try {
      if (failed) {
        const st = v && Number.isInteger(v.status) && v.status >= 400 && v.status <= 599 ? v.status : 500;
        h.rejectUpgrade(id, st, Buffer.from(st === 500 ? 'upgrade hook failed\n' : String(v.message || '') + '\n'), undefined);
        if (st === 500 && this.listenerCount('error') > 0) this.emit('error', v);
      } else if (v === false) {
        h.rejectUpgrade(id, 403, Buffer.from('forbidden\n'), undefined);
      } else if (v === true || v === undefined || v === null) {
        h.acceptUpgrade(id, undefined, undefined);
      } else if (typeof v === 'object' && v.status !== undefined) {
        const body = v.body === undefined ? Buffer.alloc(0) : toBytes(typeof v.body === 'string' ? Buffer.from(v.body) : v.body);
        h.rejectUpgrade(id, v.status, body, flatHeaders(v.headers));
      } else if (typeof v === 'object') {
        if (v.data !== undefined) this._pending.set(id, v.data);
        const ok = h.acceptUpgrade(id, v.subprotocol ?? undefined, flatHeaders(v.headers));
        if (!ok) this._pending.delete(id);
      } else {
        throw new TypeError('upgrade hook must return a boolean, an accept object or a { status } rejection');
      }
    } catch (e) {
      // A malformed decision must still end the handshake.
      try { h.rejectUpgrade(id, 500, Buffer.from('upgrade hook failed\n'), undefined); } catch { /* gone */ }
      if (this.listenerCount('error') > 0) this.emit('error', wrapError(e));
    }
  }
}

module.exports = { Server, Connection, Request, ServerHandle, attach, CONNECTING, OPEN, CLOSING, CLOSED };
