#!/usr/bin/env python3
"""cmng against the floor: whole processes on one nrf91-sim pty at 115200 baud, and fleets.

For each operation three programs run as separate processes, in turns, several times, and
the median wall time of each is printed:

- `cmng ...`, the console script as a user runs it;
- the floor: a minimal pyserial script (it imports `re`, as every pip console-script
  launcher does) that sends exactly the AT commands cmng sent for that operation, taken
  from cmng's own `-vv` trace, and reads each answer up to its final line;
- Nordic's nrfcredstore, where it has the operation.

Fleet rows time `cmng psk` on 1, 16 and 64 in-process simulated kits
(`sim://NAME?baud=115200&latency=0.02&state=memory`) and give each as a ratio of one kit.

The wire row times one write of a ~4 KB certificate chain through `at.SoC` on the same pty
(in-process, so start-up is left out) against its bytes' wire time at 115200 baud (86.8 us
a byte, both directions) plus the simulated modem's own time (its latency option, 0 here).

    python bench/bench_cli.py [--rounds 7] [--no-nrfcredstore] [--no-fleet]

The machine it ran on is printed first, so a table can be quoted with its context.
The `at` package is byte-compiled first, as pip does on install: a PYTHONDONTWRITEBYTECODE
environment would otherwise make every cmng run compile its modules from source.
"""
from __future__ import annotations

import argparse
import compileall
import datetime
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Callable
from pathlib import Path

BIN = Path(sys.executable).parent
TAG = 77
SIM_FLAGS = ("--baud", "115200")

# The floor. Sends each command (one argument each) with CR LF and reads until the final line of its answer.
MINIMAL = textwrap.dedent(r'''
    import re, sys
    import serial
    FINAL = re.compile(rb"(^|\r\n)(OK|ERROR|\+CME ERROR: \d+)\r\n$")
    link = serial.Serial(sys.argv[1], 115200, timeout=5)
    for command in sys.argv[2:]:
        link.write(command.encode() + b"\r\n")
        answer = b""
        while not FINAL.search(answer):
            chunk = link.read(max(1, link.in_waiting))
            if not chunk:
                sys.exit("no answer to " + command[:20])
            answer += chunk
    link.close()
''')

# nrfcredstore needs the pty to look like a kit's port: the interop test's shim, where only the USB
# enumeration is faked (run the bench from the checkout's root, as bench_transport.py is).
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tests.test_pty import NRFCREDSTORE  # noqa: E402


def median_ms(run: Callable[[], None], rounds: int, setup: Callable[[], None] | None = None) -> float:
    samples = []
    for _ in range(rounds):
        if setup:
            setup()
        start = time.perf_counter()
        run()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples) * 1000


def interleaved_ms(runs: list[Callable[[], None]], rounds: int, setup: Callable[[], None] | None = None
                   ) -> list[float]:
    """Median ms of each of `runs`, taken in turns within each round, so that a load that comes and
    goes on the machine weighs on all of them alike (their ratios are what the table is for)."""
    samples: list[list[float]] = [[] for _ in runs]
    for _ in range(rounds):
        for run, times in zip(runs, samples, strict=True):
            if setup:
                setup()
            start = time.perf_counter()
            run()
            times.append(time.perf_counter() - start)
    return [statistics.median(times) * 1000 for times in samples]


def check(argv: list, **kwargs) -> subprocess.CompletedProcess:
    proc = subprocess.run(argv, capture_output=True, text=True, **kwargs)
    if proc.returncode != 0:
        raise SystemExit(f"bench: {' '.join(map(str, argv[:4]))} ... failed ({proc.returncode}): {proc.stderr[-400:]}")
    return proc


def sent_commands(trace: str) -> list[str]:
    """The commands in a `cmng -vv` trace: a `>` line starts one, indented lines continue it."""
    commands: list[str] = []
    direction = None
    for line in trace.splitlines():
        if line.startswith("> "):
            commands.append(line[2:])
            direction = ">"
        elif line.startswith("< "):
            direction = "<"
        elif line.startswith("  ") and direction == ">":
            commands[-1] += "\n" + line[2:]
    return commands


def ca_bundle(directory: Path, count: int = 2, filename: str = "bundle.pem") -> Path:
    """`count` self-signed RSA-2048 roots in one PEM file (two: about 2.4 KB, as a CA bundle is)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import NameOID

    pems = []
    for index in range(count):
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        name = x509.Name([x509.NameAttribute(NameOID.COUNTRY_NAME, "NO"),
                          x509.NameAttribute(NameOID.ORGANIZATION_NAME, "nrf91-at bench"),
                          x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, "provisioning station"),
                          x509.NameAttribute(NameOID.COMMON_NAME, f"nrf91-at bench root certificate {index}")])
        now = datetime.datetime.now(datetime.timezone.utc)
        cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
                .serial_number(x509.random_serial_number()).not_valid_before(now)
                .not_valid_after(now + datetime.timedelta(days=3650))
                .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
                .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
                .add_extension(x509.KeyUsage(True, False, False, False, False, True, True, False, False), critical=True)
                .sign(key, hashes.SHA256()))
        pems.append(cert.public_bytes(serialization.Encoding.PEM))
    path = directory / filename
    path.write_bytes(b"".join(pems))
    return path


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{platform.system()} {platform.release()}, {cpu}, {os.cpu_count()} cores, Python {platform.python_version()}"


def bench_ops(pty: str, workdir: Path, rounds: int, with_nrfcredstore: bool) -> list[tuple]:
    cmng = str(BIN / "cmng")
    bundle = ca_bundle(workdir)
    minimal = workdir / "minimal.py"
    minimal.write_text(MINIMAL)
    store = workdir / "nrfcredstore_shim.py"
    store.write_text(NRFCREDSTORE)

    def write_bundle() -> None:
        check([cmng, "write", pty, "--sec_tag", str(TAG), "--cred_type", "0", "--content_path", str(bundle)])

    ops = [
        ("imei", ["imei"], ["imei"], None),
        ("list", ["list"], ["list"], None),
        ("read CA bundle", ["read", "--sec_tag", str(TAG), "--cred_type", "0"], None, write_bundle),
        ("delete", ["delete", "--sec_tag", str(TAG), "--cred_type", "0"], ["delete", str(TAG), "ROOT_CA_CERT"],
         write_bundle),
        (f"write CA bundle ({bundle.stat().st_size} B)",
         ["write", "--sec_tag", str(TAG), "--cred_type", "0", "--content_path", str(bundle)],
         ["write", str(TAG), "ROOT_CA_CERT", str(bundle)], None),
    ]
    rows = [("--help", *interleaved_ms([lambda: check([cmng, "--help"]),
                                        lambda: check([sys.executable, "-c", "import re, serial"])], rounds), None)]
    for label, args, store_args, setup in ops:
        if setup:
            setup()
        trace = check([cmng, args[0], pty, *args[1:], "-vv"]).stderr
        commands = sent_commands(trace)
        if setup:
            setup()
        runs = [lambda a=args: check([cmng, a[0], pty, *a[1:]]),
                lambda c=commands: check([sys.executable, str(minimal), pty, *c])]
        if with_nrfcredstore and store_args:
            runs.append(lambda s=store_args: check([sys.executable, str(store), pty, *s]))
        ours, floor, *theirs = interleaved_ms(runs, rounds, setup)
        rows.append((label, ours, floor, theirs[0] if theirs else None))
    return rows


def bench_wire(pty: str, workdir: Path, rounds: int) -> tuple[int, float, float]:
    """(command bytes, median ms of one AT%CMNG=0 exchange with a ~4 KB chain, its wire + modem time in ms)."""
    import at
    from at import protocol

    chain = ca_bundle(workdir, count=3, filename="chain.pem").read_text()
    command = protocol.build("%CMNG", 0, TAG, 0, chain)
    sent = len(protocol.encode_command(command))
    with at.SoC(pty) as soc:
        before = soc.get_functional_mode()
        soc.set_functional_mode(at.CFUN_MODE_OFFLINE)
        answer = soc.response(command)  # the answer's own bytes: "OK" and its line end
        received = len(answer.final) + 2
        took = median_ms(lambda: soc.check(soc.response(command)), rounds)
        soc.set_functional_mode(before)
    return sent, took, (sent + received) * 10 / 115200 * 1000


def bench_fleet(workdir: Path, rounds: int) -> list[tuple[int, float]]:
    counts = (1, 16, 64)

    def run(n: int) -> None:
        psk_file = workdir / f"psk_{n}_{time.monotonic_ns()}.txt"
        ports = [f"sim://fleet{n}-{i}?baud=115200&latency=0.02&state=memory" for i in range(n)]
        check([str(BIN / "cmng"), "psk", *ports, "--psk_file", str(psk_file)])

    return list(zip(counts, interleaved_ms([lambda n=n: run(n) for n in counts], rounds), strict=True))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=7, help="runs per measurement; the median is shown")
    parser.add_argument("--no-nrfcredstore", dest="nrfcredstore", action="store_false")
    parser.add_argument("--no-fleet", dest="fleet", action="store_false")
    args = parser.parse_args()
    import at

    compileall.compile_dir(str(Path(at.__file__).parent), quiet=1)
    workdir = Path(tempfile.mkdtemp(prefix="nrf91-bench-"))
    os.environ["NRF91_SIM_STATE_DIR"] = str(workdir / "sim")
    print(f"machine: {machine()}")
    server = subprocess.Popen([str(BIN / "nrf91-sim"), "bench-cli", *SIM_FLAGS], stdout=subprocess.PIPE, text=True)
    try:
        pty = server.stdout.readline().strip()
        rows = bench_ops(pty, workdir, args.rounds, args.nrfcredstore)
        wire = bench_wire(pty, workdir, args.rounds)
    finally:
        server.terminate()
        server.wait()
    print(f"\nwhole processes on an nrf91-sim pty at 115200 baud, median of {args.rounds} runs (ms)\n")
    print("| operation | cmng | floor (pyserial) | cmng / floor | nrfcredstore | nrfcredstore / cmng |")
    print("|---|---:|---:|---:|---:|---:|")
    for label, ours, floor, theirs in rows:
        store = f"{theirs:.0f} | {theirs / ours:.1f}x" if theirs else "- | -"
        print(f"| {label} | {ours:.0f} | {floor:.0f} | {ours / floor:.2f}x | {store} |")
    sent, took, wire_ms = wire
    print(f"\none AT%CMNG=0 write of a {sent}-byte command (3-certificate chain) through at.SoC on the pty, "
          f"median of {args.rounds} (ms)\n")
    print("| write | measured | wire time + modem time | measured / wire |")
    print("|---|---:|---:|---:|")
    print(f"| {sent} B certificate chain | {took:.0f} | {wire_ms:.0f} | {took / wire_ms:.2f}x |")
    if args.fleet:
        fleet = bench_fleet(workdir, args.rounds)
        print("\ncmng psk on in-process kits (baud=115200, latency=0.02), median (ms)\n")
        print("| kits | cmng psk | / one kit |")
        print("|---:|---:|---:|")
        for count, ms in fleet:
            print(f"| {count} | {ms:.0f} | {ms / fleet[0][1]:.2f}x |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
