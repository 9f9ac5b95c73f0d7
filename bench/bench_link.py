"""What at_host's strictness costs the link: opening clean, opening a wedged kit, resync after a timeout.

    python bench/bench_link.py [--rounds 5]
"""
from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time

import serial
from bench_transport import timed  # bench/ is on sys.path when a bench script runs

import at


def wedge(url: str) -> None:
    raw = serial.serial_for_url(url, timeout=0.1)
    raw.write(b'AT%CMNG=0,77,3,"0011')
    raw.close()


def open_wedged(url: str) -> None:
    wedge(url)
    at.SoC(url).close()


def resync_after_timeout(url: str) -> None:
    with at.SoC(url) as soc:
        sim = soc._link.serial.raw._sim_link
        sim.options.latency, soc._link.timeout = 1.0, 0.05
        try:
            soc.get_functional_mode()
        except at.ATTimeoutError:
            pass
        sim.options.latency, soc._link.timeout = 0.0, 10
        start = time.perf_counter()
        soc.get_functional_mode()
        resync_after_timeout.last = time.perf_counter() - start  # type: ignore[attr-defined]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    os.environ["NRF91_SIM_STATE_DIR"] = tempfile.mkdtemp(prefix="nrf91-bench-")
    for label, url in (("sim:// (no wire time)", "sim://b1?state=memory"),
                       ("sim:// @115200 baud", "sim://b2?state=memory&baud=115200")):
        print(f"{label:24} open+close, clean kit      {timed(lambda u=url: at.SoC(u).close(), args.rounds):8.1f} ms")
        print(f"{label:24} open+close, wedged kit     {timed(lambda u=url: open_wedged(u), args.rounds):8.1f} ms")
        resync = []
        for _ in range(args.rounds):
            resync_after_timeout(url)
            resync.append(resync_after_timeout.last)  # type: ignore[attr-defined]
        print(f"{label:24} command after a timeout    {statistics.median(resync) * 1000:8.1f} ms")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
