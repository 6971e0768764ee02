// Minimal Node `ws` room broadcast server: the peer the hub's latency figures are compared with.
// Wire format (shared with loadtests/baselines/socketio_server.py, JSON text frames):
//   client -> {"type":"subscribe","room":R}  |  {"type":"publish","room":R,"data":{...}}
//   server -> {"type":"message","room":R,"data":{...}}   (to every member but the sender)
// GET /health answers 200; PORT (default 8780) and HOST (default 0.0.0.0) come from the environment.
'use strict';
const http = require('http');
const { WebSocketServer } = require('ws');

const port = Number(process.env.PORT || 8780);
const host = process.env.HOST || '0.0.0.0';
const rooms = new Map(); // room -> Set<ws>

const server = http.createServer((req, res) => {
  res.writeHead(req.url === '/health' ? 200 : 404, { 'content-type': 'application/json' });
  res.end(JSON.stringify({ status: 'ok', connections: wss.clients.size }));
});
const wss = new WebSocketServer({ server, perMessageDeflate: false });

wss.on('connection', (ws) => {
  ws.rooms = new Set();
  ws.alive = true;
  ws.on('pong', () => { ws.alive = true; });
  ws.on('message', (raw) => {
    let msg;
    try { msg = JSON.parse(raw); } catch { return; }
    if (msg.type === 'subscribe' && typeof msg.room === 'string') {
      if (!rooms.has(msg.room)) rooms.set(msg.room, new Set());
      rooms.get(msg.room).add(ws);
      ws.rooms.add(msg.room);
      ws.send(JSON.stringify({ type: 'subscribed', room: msg.room }));
    } else if (msg.type === 'publish' && rooms.has(msg.room)) {
      const frame = JSON.stringify({ type: 'message', room: msg.room, data: msg.data });
      for (const peer of rooms.get(msg.room)) if (peer !== ws) peer.send(frame);
    }
  });
  ws.on('close', () => {
    for (const room of ws.rooms) {
      const members = rooms.get(room);
      members.delete(ws);
      if (members.size === 0) rooms.delete(room);
    }
  });
});

// Heartbeat: ping every 30 s, drop peers that did not answer the previous ping.
setInterval(() => {
  for (const ws of wss.clients) {
    if (!ws.alive) { ws.terminate(); continue; }
    ws.alive = false;
    ws.ping();
  }
}, 30000).unref();

server.listen(port, host, () => console.log(`node-ws baseline listening on ${host}:${port}`));
process.on('SIGTERM', () => process.exit(0));
