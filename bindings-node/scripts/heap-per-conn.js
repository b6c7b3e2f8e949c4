// Measures the JS heap held per idle connection by the binding's Request + Connection
// objects and the connections Map (no sockets): N objects built with the same arguments
// the dispatcher uses for a default connection, heapUsed before/after with forced GC.
// Run: node --expose-gc scripts/heap-per-conn.js [package dir]   (BENCH-NOTES.md, idle memory)
const { Request, Connection } = require(process.argv[2] || require('node:path').join(__dirname, '..'));
const N = 19000;
const server = { _h: null, _out: null };
global.gc(); global.gc();
const before = process.memoryUsage().heapUsed;
const conns = new Map();
for (let i = 0; i < N; i++) {
  const req = new Request('/', '', '127.0.0.1', 40000 + (i % 20000), null, null, null, null);
  conns.set(i * 4194304 + 17, new Connection(server, i * 4194304 + 17, req, undefined));
}
global.gc(); global.gc();
const after = process.memoryUsage().heapUsed;
console.log(((after - before) / N).toFixed(1), "B/conn of JS heap", conns.size);
