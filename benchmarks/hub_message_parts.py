"""Benchmark of the pure pieces of a client message's cost in the hub (not a test): µs per call of the
reply frame (`protocol.frame` + `encode_text`), the published body (`protocol.body` + `dumps`), an
ephemeral id, a frame's clock (`now_ms` + `iso`) and a text frame's encoding. These cuts are a few µs
each, too small to see in hub_message_cost.py's end-to-end figure on a shared box; timed in-process,
best of --repeat. Run it against main's copy of sandbox/ too (PYTHONPATH wins over the editable install) to compare:

    .venv/bin/python benchmarks/hub_message_parts.py
    git archive main sandbox | tar -x -C /tmp/main && PYTHONPATH=/tmp/main/sandbox .venv/bin/python \
        benchmarks/hub_message_parts.py
"""

from __future__ import annotations

import argparse
import json
import os
import timeit
from collections.abc import Callable

from spotctl_sandbox.hub.core.fanout import encode_text
from spotctl_sandbox.realtime import protocol


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--number", type=int, default=50_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    reply = {"room": "cost-1-1", "message_id": "1733145600000-0"}
    content = {"room": "cost-1-1", "from": "bench-1", "data": {"k": 1234}}
    text = protocol.frame("room_message_result", reply)
    parts: dict[str, Callable[[], object]] = {
        "reply_frame": lambda: encode_text(protocol.frame("room_message_result", reply)),
        "published_body": lambda: protocol.dumps(protocol.body("room_message", content, topic="room:cost-1-1",
                                                               priority=1)),
        "ephemeral_id": protocol.ephemeral_id,
        "timestamp": lambda: protocol.iso(protocol.now_ms()),  # server_time and timestamp: each body and reply
        "encode_text": lambda: encode_text(text),
    }
    out: dict[str, object] = {"protocol": protocol.__file__, "loadavg": os.getloadavg()}
    for name, call in parts.items():
        best = min(timeit.repeat(call, number=args.number, repeat=args.repeat))
        out[f"{name}_us"] = round(best / args.number * 1e6, 2)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
