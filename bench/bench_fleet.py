#!/usr/bin/env python3
"""Only the fleet rows of bench_cli: `cmng psk` on 1, 16 and 64 in-process simulated kits, as whole processes.

Each round runs the three sizes in turns; the median of each and its ratio to one kit are
printed, with the spread (min-max) of the 64-kit ratio over the rounds, and the CPU time each
run used (less noisy than wall time on a shared machine: the fleet's cost is CPU in one interpreter).

    python bench/bench_fleet.py [--rounds 9]
"""
from __future__ import annotations

import argparse
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_cli import BIN, check  # noqa: E402

COUNTS = (1, 16, 64)


def run(workdir: Path, n: int) -> tuple[float, float]:
    """(wall ms, CPU ms) of one `cmng psk` on `n` kits."""
    psk_file = workdir / f"psk_{n}_{time.monotonic_ns()}.txt"
    ports = [f"sim://fleet{n}-{i}?baud=115200&latency=0.02&state=memory" for i in range(n)]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    check([str(BIN / "cmng"), "psk", *ports, "--psk_file", str(psk_file)])
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall * 1000, (after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime) * 1000


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=9)
    args = parser.parse_args()
    samples: dict[int, list[float]] = {n: [] for n in COUNTS}
    cpu: dict[int, list[float]] = {n: [] for n in COUNTS}
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(args.rounds):
            for n in COUNTS:
                wall, used = run(Path(tmp), n)
                samples[n].append(wall)
                cpu[n].append(used)
    one = statistics.median(samples[1])
    print("| kits | median ms | min-max ms | vs 1 kit | CPU ms (median) |")
    for n in COUNTS:
        ms = statistics.median(samples[n])
        print(f"| {n} | {ms:.0f} | {min(samples[n]):.0f}-{max(samples[n]):.0f} | {ms / one:.2f}x "
              f"| {statistics.median(cpu[n]):.0f} |")
    ratios = sorted(b / a for a, b in zip(samples[1], samples[64], strict=True))
    print(f"64/1 per round: median {statistics.median(ratios):.2f}x, spread {ratios[0]:.2f}x-{ratios[-1]:.2f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
