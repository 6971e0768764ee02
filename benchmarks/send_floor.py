"""The floor under a delivery's cost on this machine (not a test): CPU of one loopback TCP send of a
hub-sized frame, with nothing else around it — no WebSocket, no Python hub, no Redis.

Every server in the side-by-side (the hub, Node `ws`) makes one send per delivery; on loopback the
kernel also runs the receiver's TCP input and wake-up inside that send, charged to the sender. So
this figure bounds what "CPU per delivery" can reach without putting several frames in one send.
`--per-send K` puts K frames in each send (what a write delay or a burst buys).

    .venv/bin/python benchmarks/send_floor.py --connections 2500 --sends 200000 --per-send 1
    .venv/bin/python benchmarks/send_floor.py --connections 2500 --sends 100000 --per-send 2
    .venv/bin/python benchmarks/send_floor.py --readers active     # readers woken by every frame
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import resource
import selectors
import socket
import time
from multiprocessing.connection import Connection

FRAME_BYTES = 220  # a room_message frame as the hub writes it (header + JSON envelope)


def _reader(port: int, connections: int, mode: str, ready: Connection, stop: Connection) -> None:
    """Connect `connections` clients and read them: `active` waits in epoll on every socket (each
    frame wakes it), `passive` reads every socket once every 2 s, like the scenario's receivers."""
    socks = [socket.create_connection(("127.0.0.1", port)) for _ in range(connections)]
    for s in socks:
        s.setblocking(False)
    ready.send(True)
    sel = selectors.DefaultSelector()
    if mode == "active":
        for s in socks:
            sel.register(s, selectors.EVENT_READ)
    while not stop.poll(0):
        if mode == "active":
            for key, _ in sel.select(timeout=0.2):
                try:
                    key.fileobj.recv(1 << 16)  # type: ignore[union-attr]
                except BlockingIOError:
                    pass
        else:
            for s in socks:
                try:
                    while s.recv(1 << 16):
                        pass
                except BlockingIOError:
                    pass
            time.sleep(2.0)


def cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def measure(connections: int, sends: int, per_send: int, mode: str) -> dict[str, float]:
    listener = socket.create_server(("127.0.0.1", 0), backlog=4096)
    port = listener.getsockname()[1]
    ready_r, ready_w = mp.Pipe(duplex=False)
    stop_r, stop_w = mp.Pipe(duplex=False)
    reader = mp.Process(target=_reader, args=(port, connections, mode, ready_w, stop_r), daemon=True)
    reader.start()
    peers = [listener.accept()[0] for _ in range(connections)]
    ready_r.recv()
    for p in peers:
        p.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # as uvloop and Node set it
        p.setblocking(False)
    payload = b"x" * (FRAME_BYTES * per_send)
    rate = 20_000  # sends/s, paced in slices so receivers keep up like in the scenario
    sent, skipped = 0, 0
    cpu0, wall0 = cpu_s(), time.perf_counter()
    i = 0
    while sent < sends:
        slice_end = time.perf_counter() + 0.01
        for _ in range(rate // 100):
            try:
                peers[i % connections].send(payload)
                sent += 1
            except BlockingIOError:
                skipped += 1
            i += 1
        pause = slice_end - time.perf_counter()
        if pause > 0:
            time.sleep(pause)
    cpu, wall = cpu_s() - cpu0, time.perf_counter() - wall0
    # the same loop with no send: its Python cost, subtracted to leave the kernel's
    cpu_loop0 = cpu_s()
    for j in range(sends):
        _ = peers[j % connections]
    loop_cpu = cpu_s() - cpu_loop0
    stop_w.send(True)
    reader.join(5)
    for p in peers:
        p.close()
    listener.close()
    us_send = (cpu - loop_cpu) / sent * 1e6
    return {"sends": sent, "skipped": skipped, "wall_s": wall, "cpu_s": cpu, "us_per_send": us_send,
            "us_per_frame": us_send / per_send}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--connections", type=int, default=2500)
    ap.add_argument("--sends", type=int, default=200_000)
    ap.add_argument("--per-send", type=int, default=1, help="frames per send")
    ap.add_argument("--readers", choices=["passive", "active"], default="passive")
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    print(f"load before: {os.getloadavg()[0]:.2f}  connections {args.connections}  frame {FRAME_BYTES} B "
          f"x {args.per_send} per send  readers {args.readers}")
    for r in range(args.rounds):
        m = measure(args.connections, args.sends, args.per_send, args.readers)
        print(f"round {r + 1}: {m['sends']:,} sends in {m['wall_s']:.1f} s, CPU {m['cpu_s']:.2f} s -> "
              f"{m['us_per_send']:.2f} us per send, {m['us_per_frame']:.2f} us per frame "
              f"({m['skipped']} would-block)")


if __name__ == "__main__":
    main()
