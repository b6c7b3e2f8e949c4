// Interop check: Node `ws` client with perMessageDeflate (threshold 0, so every message
// is compressed) against interop_server. Sends JSON-like text of many sizes, a binary
// message, and a fragmented compressed message; every echo must match. Exit 0 on success.
'use strict';
const path = require('path');
const { WebSocket } = require(path.join(__dirname, '../../peers/node-ws-deflate/node_modules/ws'));
const port = process.argv[2];
const offer = process.argv[3] || 'default';
const pmd = offer === 'nct' ? { threshold: 0, serverNoContextTakeover: true, clientNoContextTakeover: true }
  : offer === 'bits10' ? { threshold: 0, serverMaxWindowBits: 10, clientMaxWindowBits: 10 } : { threshold: 0 };
const ws = new WebSocket(`ws://127.0.0.1:${port}/echo`, { perMessageDeflate: pmd });
const sizes = [0, 1, 31, 32, 200, 1000, 4096, 5000, 20000, 70000, 4096, 4096, 32];
const msgs = sizes.map((n, i) => {
  let s = '';
  while (s.length < n) s += `{"id":${i * 100 + s.length},"user":"u${i}","text":"hello ${i}"},`;
  return s.slice(0, n);
});
let i = 0;
let failed = 0;
ws.on('open', () => {
  console.log('negotiated:', ws.extensions);
  if (!ws.extensions.includes('permessage-deflate')) { console.log('FAIL no extension'); process.exit(1); }
  next();
});
function next() {
  if (i < msgs.length) return ws.send(msgs[i]);
  if (i === msgs.length) return ws.send(Buffer.from(msgs[6]), { binary: true });
  // Fragmented compressed message: ws compresses the whole and splits frames itself.
  ws.send(msgs[7].slice(0, 2000), { fin: false });
  ws.send(msgs[7].slice(2000), { fin: true });
}
ws.on('message', (data, isBinary) => {
  const want = i < msgs.length ? msgs[i] : i === msgs.length ? msgs[6] : msgs[7];
  const got = data.toString();
  if (got !== want || isBinary !== (i === msgs.length)) { failed++; console.log(`FAIL message ${i}: ${got.length} vs ${want.length}`); }
  i++;
  if (i > msgs.length + 1) { ws.close(1000); } else next();
});
ws.on('close', (code) => {
  const ok = failed === 0 && i === msgs.length + 2 && code === 1000;
  console.log(ok ? `ok ws ${offer}: ${i} echoes` : `FAIL ws ${offer}: ${i} echoes, ${failed} bad, close ${code}`);
  process.exit(ok ? 0 : 1);
});
ws.on('error', (e) => { console.log('FAIL', e.message); process.exit(1); });
