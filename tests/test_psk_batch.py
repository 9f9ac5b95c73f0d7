"""Several kits in one run: the psk_file is rewritten once to mark every kit's key pending and once to settle
them all, with the same guarantees as for one kit (old in both, new in both, or a pending line the next run settles)."""
import subprocess
import sys

from at import psk, pskfile
from at.soc import SoC
from tests.test_psk_broker import stored
from tests.test_psk_crash import HEADER, classify, leftovers


def test_a_batch_rewrites_the_file_twice_and_settles_each_kit_by_what_it_holds(name, tmp_path, sim_state, monkeypatch):
    path = tmp_path / "psk_file.txt"
    path.write_text(HEADER)
    good = [f"sim://{name}-{i}" for i in range(3)]
    hung = f"sim://{name}-hung?fail=AT%CMNG=0,1234,3"  # the PSK write gets no final line: the kit cannot tell
    ports = [*good, hung, str(tmp_path / "ttyNothing")]
    rewrites = []
    real = pskfile.atomic_write
    monkeypatch.setattr(pskfile, "atomic_write", lambda *a, **k: (rewrites.append(a[0]), real(*a, **k)))
    results = psk.provision_ports(ports, open_soc=lambda port: SoC(port, timeout=0.5), psk_file=path)
    assert [r.ok for r in results] == [True, True, True, False, False]
    assert len(rewrites) == 2  # one to mark all pending, one to settle all
    book = pskfile.PskFile(path)
    for i, result in enumerate(results[:3]):
        assert stored(sim_state, f"{name}-{i}") == (result.identity, result.psk)
        assert classify(path, sim_state, f"{name}-{i}") == "agree"
    hung_identity = results[3].identity
    assert set(book.pending()) == {hung_identity} and hung_identity not in book.entries()
    monkeypatch.setattr(pskfile, "atomic_write", real)
    again = psk.provision_ports([f"sim://{name}-hung"], open_soc=SoC, psk_file=path)
    assert again[0].ok and again[0].settled == "dropped" and book.pending() == {}
    assert classify(path, sim_state, f"{name}-hung") == "agree"


CRASHING_BATCH = """
import os, sys
from at import psk, pskfile
from at.soc import SoC
path, crash_at, urls = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
count = 0

def boundary():
    global count
    count += 1
    if count == crash_at:
        os._exit(86)  # no cleanup, no finally: as a kill would

def around(owner, name):
    real = getattr(owner, name)
    def wrapped(*args, **kwargs):
        boundary()
        result = real(*args, **kwargs)
        boundary()
        return result
    setattr(owner, name, wrapped)

around(SoC, "response")          # before each AT command of any kit is sent, and after its answer
around(pskfile, "atomic_write")  # before and after each psk_file replacement
results = psk.provision_ports(urls, open_soc=SoC, psk_file=path)
assert all(r.ok for r in results), results
print(count)
"""


def test_a_batch_crashed_anywhere_leaves_each_kit_old_new_or_pending(name, tmp_path, sim_state):
    folder = tmp_path / "psk"
    folder.mkdir()
    path = folder / "psk_file.txt"
    path.write_text(HEADER)
    names = [f"{name}-a", f"{name}-b"]
    urls = [f"sim://{n}" for n in names]
    assert all(r.ok for r in psk.provision_ports(urls, open_soc=SoC, psk_file=path))
    crash_at, seen = 1, {"agree": 0, "pending": 0}
    while True:
        proc = subprocess.run([sys.executable, "-c", CRASHING_BATCH, str(path), str(crash_at), *urls],
                              capture_output=True, text=True, timeout=60)
        if proc.returncode == 0:
            break
        assert proc.returncode == 86, proc.stderr
        for n in names:
            seen[classify(path, sim_state, n)] += 1
        results = psk.provision_ports(urls, open_soc=SoC, psk_file=path)  # the next run settles what was left
        assert all(r.ok for r in results) and pskfile.PskFile(path).pending() == {}
        assert all(classify(path, sim_state, n) == "agree" for n in names)
        assert leftovers(folder) == []
        crash_at += 1
    assert crash_at == int(proc.stdout) + 1 and seen["pending"] > 0 and seen["agree"] > 0
