"""Benchmark of the hub's CPU per client message (not a test), with fan-out kept to one delivery.

It starts its own hub like hub_fanout.py (`python -m spotctl_sandbox.hub`, HUB_WORKERS workers, rate
limits raised out of the way), opens --clients picows connections (one client process), each alone in
its own room, and has them send `room_message` (no client_msg_id) at a fixed total --rate. Each message
costs the hub what a message costs it in the load scenario (read, parse, validate, rate check, durable
publish, reply) plus one delivery: the sender's own receipt. Printed: **hub CPU µs per message** (CPU
seconds of the hub's process tree ÷ receipts), the same less the hub's idle CPU (measured before),
Redis CPU µs per message (INFO cpu) and the load average. --profile DIR records each worker with py-spy
(`--native --rate 200 --format raw`) for the measured window; benchmarks/profile_summary.py sums it up.
CPU time per message moves ±30 % between runs on a shared box: compare two codes by running two of
these at once, --hub-path each, REDIS_URL on two databases (docs/BENCHMARKS.md, issue 18, "Cuts tried").

    redis-server --port 46391 --save '' --daemonize yes   # or any Redis; REDIS_URL names it
    REDIS_URL=redis://127.0.0.1:46391/0 .venv/bin/python benchmarks/hub_message_cost.py \
        --clients 200 --rate 1500 --seconds 15 [--profile /tmp/prof] [--hub-path /tmp/main/sandbox]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import psutil
import redis as syncredis

sys.path.insert(0, str(Path(__file__).parent))
from hub_fanout import NS, hub_env, jwt_secret, mint_tokens, spawn_hub, wait_healthy  # a sibling script, not a package


def listener_class(state: dict[str, int]) -> Any:
    """A picows listener that joins its room after welcome and counts receipts, replies and errors."""
    from picows import WSListener, WSMsgType

    class Listener(WSListener):
        def __init__(self, room: str) -> None:
            self.room = room

        def on_ws_frame(self, transport: Any, frame: Any) -> None:
            if frame.msg_type != WSMsgType.TEXT:
                return
            payload = frame.get_payload_as_bytes()
            if b'"type":"room_message"' in payload:
                state["receipts"] += 1
            elif b'"type":"room_message_result"' in payload:
                state["replies"] += 1
            elif b'"type":"welcome"' in payload:
                transport.send(WSMsgType.TEXT, json.dumps({"type": "join", "content": {"room": self.room}}).encode())
            elif b'"type":"join_result"' in payload:
                state["joined"] += 1
            elif b'"type":"error"' in payload:
                state["errors"] += 1

    return Listener


async def send_at_rate(transports: list[tuple[Any, str]], rate: float, seconds: float) -> int:
    """Open loop: message k is due at start + k / rate, round-robin over the connections."""
    from picows import WSMsgType

    count, start = int(rate * seconds), time.perf_counter()
    for k in range(count):
        if (wait := start + k / rate - time.perf_counter()) > 0:
            await asyncio.sleep(wait)
        transport, room = transports[k % len(transports)]
        transport.send(WSMsgType.TEXT, b'{"type":"room_message","content":{"room":"%s","data":{"k":%d}}}'
                       % (room.encode(), k))
    return count


async def clients(url: str, toks: list[str], rate: float, pipe: Any) -> None:
    """Connect and join (each its own room), then on "go <seconds>" send at `rate` in total, and on
    "report" report the receipts counted."""
    from picows import ws_connect

    state = {"joined": 0, "receipts": 0, "replies": 0, "errors": 0}
    Listener = listener_class(state)
    transports: list[tuple[Any, str]] = []
    sem = asyncio.Semaphore(50)

    async def one(i: int, token: str) -> None:
        room = f"cost-{os.getpid()}-{i}"
        async with sem:
            transport, _ = await ws_connect(lambda: Listener(room), f"{url}?token={token}&ns={NS}")
        transports.append((transport, room))

    await asyncio.gather(*(one(i, t) for i, t in enumerate(toks)))
    while state["joined"] < len(transports):
        await asyncio.sleep(0.05)
    pipe.send({"connected": len(transports), "joined": state["joined"]})
    loop = asyncio.get_running_loop()
    while True:
        command = await loop.run_in_executor(None, pipe.recv)
        if command == "stop":
            for transport, _ in transports:
                transport.disconnect()
            return
        if command == "report":
            pipe.send(dict(state))
        else:  # "go <seconds>"
            pipe.send({"sent": await send_at_rate(transports, rate, float(command.split()[1]))})


def client_process(url: str, toks: list[str], rate: float, pipe: Any) -> None:
    import uvloop

    uvloop.run(clients(url, toks, rate, pipe))


def tree_cpu_s(root: psutil.Process) -> tuple[float, float]:
    """(user, system) CPU seconds of the hub's supervisor and workers."""
    user = system = 0.0
    for proc in [root, *root.children(recursive=True)]:
        try:
            times = proc.cpu_times()
            user, system = user + times.user, system + times.system
        except psutil.NoSuchProcess:
            pass
    return user, system


def redis_cpu_s(client: syncredis.Redis) -> float:
    info = client.info("cpu")
    return float(info["used_cpu_user"]) + float(info["used_cpu_sys"])


def wait_receipts(pipe: Any, expected: int, timeout_s: float = 10.0) -> dict[str, int]:
    deadline = time.perf_counter() + timeout_s
    while True:
        pipe.send("report")
        got: dict[str, int] = pipe.recv()
        if got["receipts"] >= expected or time.perf_counter() > deadline:
            return got
        time.sleep(0.05)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=200)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--rate", type=float, default=1500.0, help="room messages/s, all clients together")
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--idle-seconds", type=float, default=5.0, help="hub idle CPU measured before")
    parser.add_argument("--profile", type=Path, help="record the workers with py-spy into this folder")
    parser.add_argument("--hub-path", type=Path, help="run the hub from this copy of sandbox/ (e.g. main's, "
                        "`git archive main sandbox | tar -x -C DIR`: DIR/sandbox), to compare side by side")
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))  # run the finally: stop the hub we started

    report: dict[str, Any] = {"date": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()),
                              "clients": args.clients, "workers": args.workers, "rate": args.rate,
                              "seconds": args.seconds, "loadavg_before": os.getloadavg()}
    env, url, metrics_url = hub_env(HUB_WORKERS=str(args.workers), HUB_ACTIVITY_INTERVAL="0",
                                    HUB_CONN_RATE="100000", HUB_CONN_BURST="100000",
                                    HUB_USER_RATE="100000/second")
    if args.hub_path:
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(args.hub_path.resolve()), env.get("PYTHONPATH")]))
        report["hub_path"] = str(args.hub_path)
    secret = jwt_secret(env)
    hub = spawn_hub(env)
    root = psutil.Process(hub.pid)
    rds = syncredis.Redis.from_url(env["REDIS_URL"])
    proc = None
    try:
        wait_healthy(metrics_url)
        toks = asyncio.run(mint_tokens(env["REDIS_URL"], secret, 0, args.clients))
        parent, child = mp.Pipe()
        proc = mp.get_context("spawn").Process(target=client_process, args=(url, toks, args.rate, child))
        proc.start()
        ready = parent.recv()
        report.update(ready)
        time.sleep(1.0)
        cpu0, t0 = sum(tree_cpu_s(root)), time.perf_counter()
        time.sleep(args.idle_seconds)
        idle_cores = (sum(tree_cpu_s(root)) - cpu0) / (time.perf_counter() - t0)
        spies = []
        if args.profile:
            args.profile.mkdir(parents=True, exist_ok=True)
            for i, worker in enumerate(root.children(recursive=True)):
                spies.append(subprocess.Popen(
                    [str(Path(sys.executable).with_name("py-spy")), "record", "--native", "--rate", "200",
                     "--format", "raw", "--duration", str(int(args.seconds)), "--pid", str(worker.pid),
                     "-o", str(args.profile / f"worker-{i}.txt")],
                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        before = wait_receipts(parent, 0)
        redis0, cpu0, t0 = redis_cpu_s(rds), tree_cpu_s(root), time.perf_counter()
        parent.send(f"go {args.seconds}")
        sent = parent.recv()["sent"]
        got = wait_receipts(parent, before["receipts"] + sent)
        cpu1, t1, redis1 = tree_cpu_s(root), time.perf_counter(), redis_cpu_s(rds)
        for spy in spies:
            spy.wait(args.seconds + 30)
        receipts = got["receipts"] - before["receipts"]
        user, system = cpu1[0] - cpu0[0], cpu1[1] - cpu0[1]
        cpu = user + system
        report.update({
            "sent": sent, "receipts": receipts, "replies": got["replies"] - before["replies"],
            "errors": got["errors"] - before["errors"],
            "hub_idle_cores": round(idle_cores, 4),
            "hub_cpu_us_per_msg": round(cpu / max(1, receipts) * 1e6, 1),
            "hub_cpu_us_per_msg_less_idle": round((cpu - idle_cores * (t1 - t0)) / max(1, receipts) * 1e6, 1),
            "hub_user_us_per_msg": round(user / max(1, receipts) * 1e6, 1),
            "hub_system_us_per_msg": round(system / max(1, receipts) * 1e6, 1),
            "hub_cores_busy": round(cpu / (t1 - t0), 3),
            "redis_cpu_us_per_msg": round((redis1 - redis0) / max(1, receipts) * 1e6, 1),
            "loadavg_after": os.getloadavg()})
        parent.send("stop")
        proc.join(30)
    finally:
        if proc is not None and proc.is_alive():
            proc.terminate()
        hub.terminate()
        hub.wait(30)
    print(json.dumps(report))


if __name__ == "__main__":
    main()
