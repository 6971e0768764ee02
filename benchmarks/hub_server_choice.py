"""Which WebSocket server should the hub use?  Measures websockets, picows, uvicorn and granian.

Each candidate runs as one process (uvloop, compression off) that keeps every connection and, for
each text frame it receives, writes it to all connections (the hub's fan-out inner loop). A separate
client process opens N idle connections (server RSS per connection), then a publisher sends
timestamped frames at a fixed rate (delivery latency p50/p99 on a probe subset) and then a burst
(deliveries/s and server CPU µs per delivery).  A benchmark, not a test:

    .venv/bin/python benchmarks/hub_server_choice.py --connections 2000 [--only websockets,picows]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import os
import socket
import subprocess
import sys
import time
from typing import Any

import psutil

SERVERS = ("websockets", "picows", "uvicorn", "granian")
PAYLOAD_PAD = "x" * 60


# --- servers --------------------------------------------------------------------------------------

async def serve_websockets(port: int) -> None:
    from websockets.asyncio.server import broadcast, serve

    clients: set[Any] = set()

    async def handler(ws: Any) -> None:
        clients.add(ws)
        try:
            async for msg in ws:
                broadcast(clients, msg)
        finally:
            clients.discard(ws)

    async with serve(handler, "127.0.0.1", port, compression=None, ping_interval=None):
        await asyncio.Future()


async def serve_picows(port: int) -> None:
    from picows import WSListener, WSMsgType, ws_create_server

    clients: set[Any] = set()

    class Listener(WSListener):
        def on_ws_connected(self, transport: Any) -> None:
            clients.add(transport)

        def on_ws_disconnected(self, transport: Any) -> None:
            clients.discard(transport)

        def on_ws_frame(self, transport: Any, frame: Any) -> None:
            if frame.msg_type == WSMsgType.TEXT:
                data = frame.get_payload_as_bytes()
                for client in clients:
                    client.send(WSMsgType.TEXT, data)
            elif frame.msg_type == WSMsgType.CLOSE:
                transport.send_close(frame.get_close_code())
                transport.disconnect()

    server = await ws_create_server(lambda _request: Listener(), "127.0.0.1", port)
    await server.serve_forever()


def asgi_app() -> Any:
    clients: set[Any] = set()

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "websocket":
            return
        await receive()  # websocket.connect
        await send({"type": "websocket.accept"})
        clients.add(send)
        try:
            while True:
                event = await receive()
                if event["type"] == "websocket.disconnect":
                    return
                message = {"type": "websocket.send", "text": event.get("text")}
                for client in list(clients):
                    await client(message)  # ASGI has no non-awaiting broadcast
        finally:
            clients.discard(send)

    return app


app = asgi_app()


def run_server(kind: str, port: int) -> subprocess.Popen[bytes]:
    me = os.path.abspath(__file__)
    if kind == "uvicorn":
        cmd = [sys.executable, "-m", "uvicorn", "hub_server_choice:app", "--port", str(port), "--loop", "uvloop",
               "--ws", "websockets-sansio", "--ws-per-message-deflate", "false", "--ws-ping-interval", "0",
               "--log-level", "warning", "--app-dir", os.path.dirname(me)]
    elif kind == "granian":
        cmd = [sys.executable, "-m", "granian", "--interface", "asgi", "--port", str(port), "--loop", "uvloop",
               "--workers", "1", "--log-level", "warning", "--working-dir", os.path.dirname(me),
               "hub_server_choice:app"]
    else:
        cmd = [sys.executable, me, "--serve", kind, "--port", str(port)]
    return subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


# --- client side ------------------------------------------------------------------------------------

async def clients_main(port: int, n: int, probes: int, rate: float, seconds: float, burst: int,
                       pipe: Any) -> None:
    import uvloop  # noqa: F401 - the parent chose the loop
    from websockets.asyncio.client import connect

    url = f"ws://127.0.0.1:{port}/ws"
    sem = asyncio.Semaphore(100)
    counts = [0]
    latencies: list[float] = []

    async def one(i: int) -> Any:
        async with sem:
            ws = await connect(url, compression=None, ping_interval=None, open_timeout=30)
        probe = i < probes

        async def reader() -> None:
            async for msg in ws:
                counts[0] += 1
                if probe:
                    latencies.append(time.time() - float(str(msg).split("|", 1)[0]))

        asyncio.get_running_loop().create_task(reader())
        return ws

    conns = await asyncio.gather(*(one(i) for i in range(n)))
    pipe.send("connected")
    pipe.recv()  # parent measured RSS
    publisher = conns[0]
    interval, sent, start = 1 / rate, 0, time.perf_counter()
    while time.perf_counter() - start < seconds:  # open loop: stamp the scheduled time
        scheduled = time.time()
        await publisher.send(f"{scheduled}|{PAYLOAD_PAD}")
        sent += 1
        await asyncio.sleep(max(0.0, start + sent * interval - time.perf_counter()))
    await asyncio.sleep(1.0)
    lat = sorted(latencies)
    latency = {"p50_ms": lat[len(lat) // 2] * 1000, "p99_ms": lat[int(len(lat) * 0.99)] * 1000,
               "samples": len(lat)} if lat else {}
    expected = counts[0] + burst * n
    pipe.send({"latency": latency, "delivered_rate_phase": counts[0], "sent": sent})
    pipe.recv()  # parent snapshots server CPU
    t0 = time.perf_counter()
    for _ in range(burst):
        await publisher.send(f"{time.time()}|{PAYLOAD_PAD}")
    while counts[0] < expected and time.perf_counter() - t0 < 60:
        await asyncio.sleep(0.01)
    elapsed = time.perf_counter() - t0
    pipe.send({"burst_deliveries": counts[0] - (expected - burst * n), "burst_s": elapsed})
    for ws in conns:
        await ws.close()


def client_process(*args: Any) -> None:
    import uvloop

    uvloop.run(clients_main(*args))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_port(port: int, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise RuntimeError(f"server on {port} did not start")


def server_tree(proc: subprocess.Popen[bytes]) -> list[psutil.Process]:
    root = psutil.Process(proc.pid)
    return [root, *root.children(recursive=True)]


def measure(kind: str, n: int, rate: float, seconds: float, burst: int) -> dict[str, Any]:
    port = free_port()
    proc = run_server(kind, port)
    try:
        wait_port(port)
        time.sleep(0.5)
        rss0 = sum(p.memory_info().rss for p in server_tree(proc))
        parent, child = mp.Pipe()
        client = mp.get_context("spawn").Process(target=client_process,
                                                 args=(port, n, min(200, n), rate, seconds, burst, child))
        t0 = time.perf_counter()
        client.start()
        assert parent.recv() == "connected"
        connect_s = time.perf_counter() - t0
        time.sleep(1.0)
        rss1 = sum(p.memory_info().rss for p in server_tree(proc))
        parent.send("go")
        phase = parent.recv()
        cpu0 = sum(sum(p.cpu_times()[:2]) for p in server_tree(proc))
        parent.send("go")
        result = parent.recv()
        cpu1 = sum(sum(p.cpu_times()[:2]) for p in server_tree(proc))
        client.join(30)
        deliveries = result["burst_deliveries"]
        return {"server": kind, "connections": n, "connect_s": round(connect_s, 1),
                "kb_per_conn": round((rss1 - rss0) / n / 1024, 1),
                "latency_at_rate": {"offered_deliveries_per_s": rate * n,
                                    **{k: round(v, 2) for k, v in phase["latency"].items()}},
                "burst_deliveries_per_s": round(deliveries / result["burst_s"]),
                "server_cpu_us_per_delivery": round((cpu1 - cpu0) / max(1, deliveries) * 1e6, 2)}
    finally:
        proc.terminate()
        proc.wait(10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--serve", choices=("websockets", "picows"))
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--connections", type=int, default=2000)
    parser.add_argument("--rate", type=float, default=10.0, help="published frames/s in the latency phase")
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--burst", type=int, default=50)
    parser.add_argument("--only", default=",".join(SERVERS))
    args = parser.parse_args()
    if args.serve:
        import uvloop

        uvloop.run(serve_websockets(args.port) if args.serve == "websockets" else serve_picows(args.port))
        return
    for kind in args.only.split(","):
        print(json.dumps(measure(kind, args.connections, args.rate, args.seconds, args.burst)), flush=True)


if __name__ == "__main__":
    main()
