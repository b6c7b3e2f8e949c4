// @ts-check
// Instant messages by tag: each connection is tagged "user:<name>" (from a cookie or the
// query), so a message {to, text} reaches every device of that user wherever it is
// connected, with one sendByTag. Run: node examples/node/im.js [port]
'use strict';
const { Server } = require('websock');

const server = new Server({
  port: Number(process.argv[2] || process.env.PORT || 8081),
  keepHeaders: ['cookie'],
});

/** @param {import('websock').Request} req */
function userOf(req) {
  return req.cookie('user') || new URLSearchParams(req.query).get('user') || '';
}

server.on('open', (conn, req) => {
  const user = userOf(req);
  if (!user) {
    conn.close(4001, 'who are you?');
    return;
  }
  conn.tag('user:' + user);
  conn.send(JSON.stringify({ from: 'server', text: `hello ${user}, ${server.countByTag('user:' + user)} device(s) online` }));
});

server.on('message', (conn, data) => {
  /** @type {{ to?: string, text?: string }} */
  let msg;
  try {
    msg = JSON.parse(String(data));
  } catch {
    conn.send(JSON.stringify({ error: 'send JSON: {"to": "bob", "text": "hi"}' }));
    return;
  }
  const from = userOf(conn.request);
  const delivered = server.sendByTag('user:' + msg.to, JSON.stringify({ from, text: msg.text }));
  if (delivered === 0) conn.send(JSON.stringify({ error: `${msg.to} is offline` }));
});

server.listen().then(({ port }) => console.log(`IM on ws://127.0.0.1:${port}/?user=ann`));
process.once('SIGINT', () => { server.close(); });
