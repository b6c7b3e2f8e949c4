// @ts-check
// Chat with rooms: connect to ws://127.0.0.1:8080/?room=lobby&name=ann; every text message
// goes to everyone in the same room (one sendByTag: the frame is encoded once for all).
// "/join <room>" switches rooms. Chat text compresses well, so permessage-deflate is on in
// shared mode (no per-connection memory; a room message is compressed once for the room).
// Run: node examples/node/chat.js [port]
'use strict';
const { Server } = require('websock');

/** @type {Server<{ name: string, room: string }>} */
const server = new Server({
  port: Number(process.argv[2] || process.env.PORT || 8080),
  compression: { mode: 'shared', threshold: 256 },
  upgrade: (req) => {
    const q = new URLSearchParams(req.query);
    const name = q.get('name');
    if (!name) return { status: 400, body: 'name is required\n' };
    return { data: { name, room: q.get('room') || 'lobby' } };
  },
});

server.on('open', (conn) => {
  const me = /** @type {{ name: string, room: string }} */ (conn.data);
  conn.tag('room:' + me.room);
  server.sendByTag('room:' + me.room, `* ${me.name} joined ${me.room}`);
});

server.on('message', (conn, data, isText) => {
  const me = /** @type {{ name: string, room: string }} */ (conn.data);
  if (!isText) return;
  const text = String(data);
  if (text.startsWith('/join ')) {
    conn.untag('room:' + me.room);
    server.sendByTag('room:' + me.room, `* ${me.name} left`);
    me.room = text.slice(6).trim() || 'lobby';
    conn.tag('room:' + me.room);
    server.sendByTag('room:' + me.room, `* ${me.name} joined ${me.room}`);
    return;
  }
  server.sendByTag('room:' + me.room, `${me.name}: ${text}`);
});

server.on('close', (conn) => {
  const me = /** @type {{ name: string, room: string }} */ (conn.data);
  server.sendByTag('room:' + me.room, `* ${me.name} left`);
});

server.listen().then(({ port }) => console.log(`chat on ws://127.0.0.1:${port}/?name=you&room=lobby`));
process.once('SIGINT', () => { server.close().then(() => console.log('bye')); });
