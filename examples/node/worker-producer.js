// @ts-check
// worker_threads producer: the main thread serves; a worker computes "ticks" and sends
// them by tag straight from its own thread through attach(server.handleId), without
// posting them back to the main thread. Clients on /ticks get them.
// Run: node examples/node/worker-producer.js [port]
'use strict';
const { Worker, isMainThread, parentPort, workerData } = require('node:worker_threads');
const { Server, attach } = require('websock');

if (isMainThread) {
  const server = new Server({ port: Number(process.argv[2] || process.env.PORT || 8083) });
  server.on('open', (conn, req) => {
    if (req.path === '/ticks') conn.tag('ticks');
  });
  server.listen().then(({ port }) => {
    console.log(`ticks on ws://127.0.0.1:${port}/ticks`);
    const worker = new Worker(__filename, { workerData: { handleId: server.handleId, count: Number(process.env.TICKS || 0) } });
    worker.on('message', (m) => console.log('worker:', m));
    worker.on('exit', () => { if (process.env.TICKS) server.close(); });
    process.once('SIGINT', () => { worker.terminate(); server.close(); });
  });
} else {
  const h = attach(workerData.handleId);
  let n = 0;
  const timer = setInterval(() => {
    n++;
    const sent = h.sendByTag('ticks', JSON.stringify({ tick: n, at: Date.now() }));
    if (workerData.count && n >= workerData.count) {
      clearInterval(timer);
      parentPort?.postMessage(`sent ${n} ticks, last to ${sent} client(s)`);
    }
  }, 10);
}
