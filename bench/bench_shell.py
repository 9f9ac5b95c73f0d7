#!/usr/bin/env python3
"""Provisioning a PSK through the application's AT shell vs through at_client. Measured.

One provisioning = open the port (auto detection included), take the modem offline,
write a 32-byte PSK and its identity (each verified by SHA-256), restore CFUN, close.
Timed on a real pty served by nrf91-sim with 115200-baud emulation, for an at_client
kit and for a shell kit (modem_shell style, logs on), and over sim:// without wire time.

The shell route needs no flashing; the at_client route on a kit that runs an
application needs two flash cycles (at_client in, the application back). Those cannot
be measured here (no J-Link): give your own per-cycle time with --flash-seconds.

    python bench/bench_shell.py [--rounds 10] [--flash-seconds 25]
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
PSK = "0123456789abcdef" * 4


def provision(port: str) -> str:
    with at.SoC(port) as soc:
        with soc.offline():
            soc.write_credential(4242, at.CRED_TYPE_PSK, PSK)
            soc.write_credential(4242, at.CRED_TYPE_PSK_IDENTITY, "bench-device")
        return soc.mode


def timed(port: str, rounds: int) -> tuple[str, float]:
    samples, mode = [], ""
    for _ in range(rounds):
        start = time.perf_counter()
        mode = provision(port)
        samples.append(time.perf_counter() - start)
    return mode, statistics.median(samples) * 1000


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--flash-seconds", type=float, default=None,
                        help="your measured time for one flash cycle (program + reset + boot), in seconds")
    args = parser.parse_args()
    os.environ["NRF91_SIM_STATE_DIR"] = tempfile.mkdtemp(prefix="nrf91-bench-")
    rows = []
    for label, url in (("sim:// at_client", "sim://b-at?state=memory&fw=nrf9160"),
                       ("sim:// shell", "sim://b-sh?state=memory&fw=nrf9160&app=shell")):
        rows.append((label, *timed(url, args.rounds)))
    for label, extra in (("pty @115200 at_client", []),
                         ("pty @115200 shell (logs, colour)", ["--app", "shell", "--logs", "1", "--colour", "1"])):
        server = subprocess.Popen([str(BIN / "nrf91-sim"), f"bench-{len(rows)}", "--baud", "115200",
                                   "--fw", "nrf9160", *extra], stdout=subprocess.PIPE, text=True)
        try:
            rows.append((label, *timed(server.stdout.readline().strip(), args.rounds)))
        finally:
            server.terminate()
            server.wait()
    width = max(len(r[0]) for r in rows)
    print(f"{'link'.ljust(width)}  mode   median ms per PSK provisioning (open, offline, PSK + identity, restore)")
    for label, mode, ms in rows:
        print(f"{label.ljust(width)}  {mode:5}  {ms:9.1f}")
    shell_ms = rows[-1][2]
    at_ms = rows[-2][2]
    if args.flash_seconds is not None:
        print(f"at_client on an application kit also costs 2 flash cycles: {2 * args.flash_seconds:.1f} s "
              f"(from --flash-seconds) + {at_ms / 1000:.2f} s, vs {shell_ms / 1000:.2f} s through the shell")
    else:
        print("flash cycles avoided by the shell: 2 per kit (pass --flash-seconds with your measured cycle time)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
