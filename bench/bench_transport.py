#!/usr/bin/env python3
"""How fast is a credential round trip? Measured, not guessed.

Runs list / read / write+verify against the simulated modem over sim:// (no wire
time), over sim:// with 115200-baud emulation, and over a real pty served by
nrf91-sim. With --nrfcredstore, also times Nordic's nrfcredstore `list` on the same
pty for comparison. Prints a table of median milliseconds per operation.

    python bench/bench_transport.py [--rounds 20] [--nrfcredstore]
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import at

BIN = Path(sys.executable).parent


def timed(fn, rounds: int) -> float:
    samples = []
    for _ in range(rounds):
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples) * 1000


def bench_port(label: str, port: str, rounds: int, baudrate: int = 115200) -> list[tuple[str, str, float]]:
    rows = []
    with at.SoC(port, baudrate=baudrate) as soc:
        ca = soc.read_credential(at.NRF_CLOUD_SEC_TAG, 0)
        rows.append((label, "list (6 entries)", timed(soc.list_credentials, rounds)))
        rows.append((label, f"read CA ({len(ca)} B)", timed(lambda: soc.read_credential(at.NRF_CLOUD_SEC_TAG, 0), rounds)))
        rows.append((label, "write CA + verify", timed(lambda: soc.write_credential(99, 0, ca), rounds)))
        rows.append((label, "AT+CGSN=1", timed(soc.get_imei, rounds)))
    rows.append((label, "open + close (AT, CMEE setup/restore)",
                 timed(lambda: at.SoC(port, baudrate=baudrate).close(), max(3, rounds // 4))))
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--nrfcredstore", action="store_true", help="also time nrfcredstore list on the pty")
    args = parser.parse_args()
    os.environ["NRF91_SIM_STATE_DIR"] = tempfile.mkdtemp(prefix="nrf91-bench-")
    rows = bench_port("sim:// (no wire time)", "sim://bench?state=memory", args.rounds)
    rows += bench_port("sim:// @115200 baud", "sim://bench-baud?state=memory&baud=115200", args.rounds)
    server = subprocess.Popen([str(BIN / "nrf91-sim"), "bench-pty"], stdout=subprocess.PIPE, text=True)
    try:
        pty = server.stdout.readline().strip()
        rows += bench_port("pty (nrf91-sim)", pty, args.rounds)
        cmng = timed(lambda: subprocess.run([str(BIN / "cmng"), "list", pty], capture_output=True, check=True),
                     max(3, args.rounds // 4))
        rows.append(("pty (nrf91-sim)", "cmng list (whole process)", cmng))
        if args.nrfcredstore:
            from tests.test_pty import NRFCREDSTORE  # the same comports shim the interop test uses
            rows.append(("pty (nrf91-sim)", "nrfcredstore list (whole process)", timed(
                lambda: subprocess.run([sys.executable, "-c", NRFCREDSTORE, pty, "list"], capture_output=True,
                                       check=True), 3)))
    finally:
        server.terminate()
        server.wait()
    width = max(len(r[0]) for r in rows)
    print(f"{'link'.ljust(width)}  {'operation'.ljust(34)}  median ms")
    for link, op, ms in rows:
        print(f"{link.ljust(width)}  {op.ljust(34)}  {ms:9.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
