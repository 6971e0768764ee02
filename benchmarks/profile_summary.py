"""Summarise py-spy's collapsed stacks (`py-spy record --format raw`): the frames that cost the most.

Prints the top frames by self time (where the CPU was) and by inclusive time (what it was doing), as a
share of all samples, so a profile can be quoted in docs/BENCHMARKS.md. Idle samples (py-spy's default
leaves them out; with `--idle` they are the event loop's `select`/`epoll_wait`) are counted apart.

    .venv/bin/python benchmarks/profile_summary.py hub-worker-0.txt [hub-worker-1.txt ...] --top 25
"""

from __future__ import annotations

import argparse
import re
from collections import Counter
from pathlib import Path

IDLE = re.compile(r"epoll_wait|select \(selectors|_run_once.*select|epoll_pwait")
LOCATION = re.compile(r" \((?P<file>[^:()]+)(?::(?P<line>\d+))?\)$")


def short(frame: str) -> str:
    """`name (path/to/file.py:123)` as `name (file.py)`: lines split one function into many rows."""
    m = LOCATION.search(frame)
    if not m:
        return frame
    return f"{frame[:m.start()]} ({Path(m['file']).name})"


def load(paths: list[Path]) -> Counter[tuple[str, ...]]:
    stacks: Counter[tuple[str, ...]] = Counter()
    for path in paths:
        for line in path.read_text(errors="replace").splitlines():
            stack, _, count = line.rpartition(" ")
            if not stack or not count.isdigit():
                continue
            frames = tuple(short(f) for f in stack.split(";"))
            # the first frame is py-spy's process/thread label
            stacks[frames[1:] if frames and frames[0].startswith(("process", "thread")) else frames] += int(count)
    return stacks


def summarise(stacks: Counter[tuple[str, ...]], top: int) -> str:
    total = sum(stacks.values())
    if not total:
        return "no samples"
    own: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    idle = 0
    for frames, n in stacks.items():
        if frames and IDLE.search(frames[-1]):
            idle += n
        if frames:
            own[frames[-1]] += n
        for f in set(frames):
            inclusive[f] += n
    lines = [f"samples: {total:,} (idle in the event loop's poll: {100 * idle / total:.1f} %)", "",
             "self (where the CPU was):"]
    lines += [f"  {100 * n / total:5.1f} %  {f}" for f, n in own.most_common(top)]
    lines += ["", "inclusive (what it was doing):"]
    lines += [f"  {100 * n / total:5.1f} %  {f}" for f, n in inclusive.most_common(top)]
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("profiles", nargs="+", type=Path, help="py-spy raw (collapsed) output files")
    ap.add_argument("--top", type=int, default=25)
    args = ap.parse_args()
    print(summarise(load(args.profiles), args.top))


if __name__ == "__main__":
    main()
