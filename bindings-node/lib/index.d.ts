// Public TypeScript types of websock for Node.js (lib/index.js). Typed EventEmitter
// events; every option mirrors the core's `Options` (times in milliseconds).
/// <reference types="node" />
import { EventEmitter } from 'node:events';

export type Data = string | Buffer | ArrayBuffer | ArrayBufferView;

export interface TlsOptions {
  /** PEM certificate chain, leaf first. */
  cert: string | Buffer;
  /** PEM private key (PKCS#8, PKCS#1 or SEC1). */
  key: string | Buffer;
}

export interface Limits {
  /** Largest message (bytes); bigger ones close with 1009. Default 64 MiB. */
  maxMessageSize?: number;
  maxFrameSize?: number;
  /** Largest request head (bytes); bigger gets 431. Default 8 KiB. */
  maxRequestHead?: number;
  /** ms; default 10000. */
  handshakeTimeout?: number;
  /** ms to wait for the peer's close frame; default 5000. */
  closeTimeout?: number;
}

export interface Keepalive {
  /** Ping after this many ms of silence; null/false turns pings off. Default 30000. */
  pingInterval?: number | null | false;
  /** Close after this many ms without traffic from the peer; null/false: never. Default 120000. */
  idleTimeout?: number | null | false;
}

export interface Backpressure {
  /** Most bytes queued per connection before `policy` applies. Default 64 MiB. */
  maxBuffered?: number;
  /** `drain` fires when the queue falls back to this. Default 64 KiB. */
  drainThreshold?: number;
  /** 'close' (default, with `closeCode`, 1008) or 'drop' (drop the newest message). */
  policy?: 'close' | 'drop';
  closeCode?: number;
}

/**
 * permessage-deflate (RFC 7692), the core's `Compression` settings. Off unless given.
 * - `'shared'` (the default `mode` when `compression` is given): no compression window
 *   is kept between messages (the 101 carries `server_no_context_takeover` and
 *   `client_no_context_takeover`); an idle connection holds no compression memory, each
 *   event loop keeps one compressor per window size in use (~270 KB) and one decompressor
 *   (~45 KB), and `sendByTag`/`broadcast` compress once for all receivers.
 * - `'dedicated'`: each connection keeps its context between messages with a window of
 *   `2 ** windowBits` bytes (`windowBits` 9..15, required): better ratios for streams of
 *   similar messages, up to ~`2 * 2 ** windowBits` bytes per connection. Beyond
 *   `maxDedicated` connections (server-wide) new ones get shared mode.
 * - `'disabled'`: offers are declined (same as no `compression`).
 */
export interface CompressionOptions {
  mode?: 'shared' | 'dedicated' | 'disabled';
  /** 9..15; required with `'dedicated'`. */
  windowBits?: number;
  /** Messages shorter than this many bytes go uncompressed. Default 1024 (as `ws`). */
  threshold?: number;
  /** Level 1 (fastest) .. 9 (smallest), zlib's scale. Default 1. */
  level?: number;
  /** Most connections holding a dedicated context at once. Default 10000. */
  maxDedicated?: number;
}

/** Accept, optionally choosing the subprotocol, adding response headers and attaching data. */
export interface AcceptDecision<D = unknown> {
  subprotocol?: string;
  headers?: Record<string, string | string[]> | Array<[string, string]>;
  /** Becomes `conn.data`. */
  data?: D;
}

/** Reject with this HTTP response (400-599). */
export interface RejectDecision {
  status: number;
  body?: string | Buffer | Uint8Array;
  headers?: Record<string, string | string[]> | Array<[string, string]>;
}

export type UpgradeDecision<D = unknown> = boolean | undefined | void | AcceptDecision<D> | RejectDecision;

export interface ServerOptions<D = unknown> {
  host?: string;
  port?: number;
  /** An already bound, listening socket descriptor; the server takes it over. */
  fd?: number;
  tls?: TlsOptions;
  /** Allowed Origin values: exact or with wildcards (`https://*.example.com`, `*`). */
  origins?: string[];
  /** Subprotocols the server speaks, in preference order. */
  subprotocols?: string[];
  /** Request headers kept on `conn.request` after the upgrade: names, or true for all. */
  keepHeaders?: string[] | true;
  /** Proxies whose X-Forwarded-For / X-Real-IP are believed for `request.clientIp`. */
  trustedProxies?: string[];
  /**
   * Event loops. 0 (default) or 1: ONE loop, turned on the JS thread itself (`events:
   * 'driven'`). More than 1: that many loop threads (`events: 'poll'` by default).
   */
  loops?: number;
  /**
   * How the core's events reach JS (env `WEBSOCK_NODE_EVENTS` when not given):
   * - `'driven'` (default when `loops` is 0 or 1): no loop thread; libuv on the JS thread
   *   polls the loop and turns it there: read → your handlers → write in one go, no
   *   thread hand-off per message (fastest for one core's worth of traffic).
   * - `'poll'` (alias `'thread'`; default when `loops` > 1): loop threads do the network
   *   work on other cores; libuv on the JS thread is woken for each batch of events.
   * - `'tsfn'`: loop threads; a pump thread hands batches over through a threadsafe
   *   function (slower than 'poll'; kept for comparison).
   * Handlers always run on the JS thread; the API is the same in every mode.
   */
  events?: 'driven' | 'poll' | 'thread' | 'tsfn';
  backlog?: number;
  reusePort?: boolean;
  limits?: Limits;
  /** `false` turns pings and the idle timeout off. */
  keepalive?: Keepalive | false;
  backpressure?: Backpressure;
  /** permessage-deflate; off by default. A mode string is short for `{ mode }`. */
  compression?: CompressionOptions | CompressionOptions['mode'];
  /**
   * Collect the `conn.send`s made while one batch of events is dispatched and hand them to
   * the core in one native call (`Server::send_many`: one lock, one wake-up per loop).
   * `close`, `ping`, `sendByTag`, `broadcast`, `closeByTag` flush first, so the order
   * seen by a client is unchanged. Default false (env `WEBSOCK_NODE_SEND_BATCH=1`).
   */
  sendBatch?: boolean;
  /** Default grace period of `close()` in ms (5000). */
  closeTimeout?: number;
  /**
   * Decides each upgrade before it happens (may be async). Return/resolve true or
   * nothing to accept, false for 403, `{ status, body }` to reject, `{ subprotocol,
   * headers, data }` to accept with those. Throwing an error with a numeric `status`
   * rejects with it; any other error gives 500.
   */
  upgrade?: (request: Request) => UpgradeDecision<D> | Promise<UpgradeDecision<D>>;
}

export declare class Request {
  readonly method: string;
  /** Path plus `?query` as sent. */
  readonly url: string;
  readonly path: string;
  /** Without the `?`; '' when none. */
  readonly query: string;
  /** Lower-case names. In the upgrade hook: all headers; afterwards: the kept ones. */
  readonly headers: Record<string, string>;
  readonly rawHeaders: string[];
  header(name: string): string | undefined;
  cookie(name: string): string | undefined;
  readonly subprotocol: string | null;
  readonly offeredSubprotocols: string[];
  readonly remoteAddress: string;
  readonly remotePort: number;
  readonly clientIp: string;
  /** What the server agreed to in its 101 (`Sec-WebSocket-Extensions`), e.g.
   * `'permessage-deflate; server_no_context_takeover; client_no_context_takeover'`;
   * null when none (and always in the upgrade hook). */
  readonly extensions: string | null;
  /** Was permessage-deflate negotiated for this connection? */
  readonly permessageDeflate: boolean;
}

export type ReadyState = 0 | 1 | 2 | 3;
export declare const CONNECTING: 0;
export declare const OPEN: 1;
export declare const CLOSING: 2;
export declare const CLOSED: 3;

export declare class Connection<D = unknown> {
  static readonly CONNECTING: 0;
  static readonly OPEN: 1;
  static readonly CLOSING: 2;
  static readonly CLOSED: 3;
  readonly server: Server<D>;
  /** Names this connection in every thread (see `attach`): the core's id, exact (ids
   * are below 2^53, so a JS number holds every one). */
  readonly id: number;
  readonly request: Request;
  /** The `data` the upgrade hook accepted with. */
  data: D | undefined;
  readonly readyState: ReadyState;
  readonly isOpen: boolean;
  readonly remoteAddress: string;
  /** Tags in the order they were added. */
  readonly tags: string[];
  /** Bytes queued and not yet written. */
  readonly bufferedAmount: number;
  /** string → text frame, bytes → binary frame. False when the connection is gone. */
  send(data: Data): boolean;
  ping(data?: string | Buffer | Uint8Array): boolean;
  close(code?: number, reason?: string): boolean;
  /** False if the tag was already there (or the connection is gone). */
  tag(tag: string): boolean;
  untag(tag: string): boolean;
}

export type CloseWhy = 'peer' | 'local' | 'abnormal' | 'timeout' | 'protocol_error' | 'slow_consumer' | 'shutdown';

export interface Stats {
  connections: number;
  accepted: number;
  opened: number;
  rejected: number;
  messagesIn: number;
  messagesOut: number;
  bytesIn: number;
  bytesOut: number;
  dropped: number;
  protocolErrors: number;
  /** Bytes of compression history (dedicated permessage-deflate windows) held now, as of
   * each loop's last timer sweep. */
  compressionBytes: number;
  /** Connections holding a dedicated compression context now. */
  dedicatedCompression: number;
  loops: number;
}

export interface AddressInfo {
  address: string;
  port: number;
}

/** Operations that work from any thread: `server.sendByTag` and, in a worker, `attach(id)`. */
export declare class ServerHandle {
  readonly handleId: number;
  send(id: number, data: Data): boolean;
  close(id: number, code?: number, reason?: string): boolean;
  tag(id: number, tag: string): boolean;
  untag(id: number, tag: string): boolean;
  tagsOf(id: number): string[];
  isOpen(id: number): boolean;
  /** One frame, encoded once, to every connection with the tag. Returns how many had it. */
  sendByTag(tag: string, data: Data): number;
  broadcast(data: Data): number;
  closeByTag(tag: string, code?: number, reason?: string): number;
  countByTag(tag: string): number;
  stats(): Stats;
}

/** A handle on a server of this process, from any thread (pass `server.handleId` to a worker). */
export declare function attach(handleId: number): ServerHandle;

export interface ServerEvents<D> {
  listening: [address: AddressInfo];
  open: [conn: Connection<D>, request: Request];
  message: [conn: Connection<D>, data: string | Buffer, isText: boolean];
  close: [conn: Connection<D>, code: number, reason: string, why: CloseWhy];
  drain: [conn: Connection<D>];
  /** An upgrade hook failed (only emitted when listened to). */
  error: [err: Error];
  /** Every connection has closed after `close()`. */
  shutdown: [];
}

export declare class Server<D = unknown> extends EventEmitter {
  constructor(options?: ServerOptions<D>);
  /** Open connections by id. */
  readonly connections: Map<number, Connection<D>>;
  readonly port: number | undefined;
  /** Give it to a worker thread: `attach(handleId)` there. */
  readonly handleId: number | undefined;
  /** The event path in use once listening (`'driven'`, `'poll'` or `'tsfn'`). */
  readonly events: 'driven' | 'poll' | 'tsfn' | undefined;
  listen(): Promise<AddressInfo>;
  address(): AddressInfo | null;
  /** Graceful: 1001 to every client, then resolves; the process may exit afterwards. */
  close(timeout?: number): Promise<void>;
  unref(): this;
  ref(): this;
  sendByTag(tag: string, data: Data): number;
  broadcast(data: Data): number;
  closeByTag(tag: string, code?: number, reason?: string): number;
  countByTag(tag: string): number;
  stats(): Stats;

  on<E extends keyof ServerEvents<D>>(event: E, listener: (...args: ServerEvents<D>[E]) => void): this;
  once<E extends keyof ServerEvents<D>>(event: E, listener: (...args: ServerEvents<D>[E]) => void): this;
  off<E extends keyof ServerEvents<D>>(event: E, listener: (...args: ServerEvents<D>[E]) => void): this;
  addListener<E extends keyof ServerEvents<D>>(event: E, listener: (...args: ServerEvents<D>[E]) => void): this;
  removeListener<E extends keyof ServerEvents<D>>(event: E, listener: (...args: ServerEvents<D>[E]) => void): this;
  emit<E extends keyof ServerEvents<D>>(event: E, ...args: ServerEvents<D>[E]): boolean;
}
