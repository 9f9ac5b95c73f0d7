"""Crashes and concurrency: `cmng psk` killed anywhere leaves the old PSK in kit and file, the new one in both,
or a pending line the next run settles; parallel writers never lose a line."""
import os
import signal
import subprocess
import sys
import threading
import time

import at
from at import pskfile
from at.psk import provision_psk
from tests.conftest import script
from tests.test_psk_broker import Broker, stored

HEADER = "# broker keys: keep this comment\nother:00112233445566778899aabbccddeeff\n"


def leftovers(folder):
    """Files in the psk_file's folder besides the file and its lock (a temp file would hold keys)."""
    return sorted(p.name for p in folder.iterdir() if p.name not in ("psk_file.txt", ".psk_file.txt.lock"))


def unnamed_temps(folder):
    """Whether temp files here can be unnamed until their rename (O_TMPFILE), as at.files makes them where it can."""
    try:
        os.close(os.open(folder, os.O_TMPFILE | os.O_WRONLY, 0o600))
        return True
    except (AttributeError, OSError):
        return False


def classify(path, sim_state, name):
    """'agree' (kit and broker's entry hold the same PSK) or 'pending' (a line the next run settles); else fail."""
    text = path.read_text()
    assert text.startswith(HEADER), text  # other lines kept byte for byte
    book = pskfile.PskFile(path)
    entries, pending = book.entries(), book.pending()
    identity, key = stored(sim_state, name)
    assert entries["other"] == "00112233445566778899aabbccddeeff"
    if identity not in pending:
        assert entries.get(identity) == key, "kit and psk_file disagree with no pending line to settle it"
        return "agree"
    assert key in (pending[identity], entries.get(identity)), "the kit holds a key the file never saw"
    return "pending"


def test_sigkill_at_many_points_leaves_a_state_the_next_run_repairs(name, tmp_path, sim_state):
    folder = tmp_path / "psk"
    folder.mkdir()
    path = folder / "psk_file.txt"
    path.write_text(HEADER)
    path.chmod(0o600)
    url = f"sim://{name}?latency=0.05"  # every answer takes 50 ms, so kills land across the whole run
    argv = [script("cmng"), "psk", url, "--psk_file", str(path)]
    assert subprocess.run(argv, capture_output=True).returncode == 0  # makes the kit (its certificates) too
    started = time.monotonic()
    assert subprocess.run(argv, capture_output=True).returncode == 0  # how long a run takes
    duration = time.monotonic() - started
    keys = {stored(sim_state, name)[1]}
    outcomes = {"old in both": 0, "new in both": 0, "pending": 0, "finished": 0}
    kills = 16
    for index in range(kills):
        before = stored(sim_state, name)[1]
        proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:  # the delay is what this test varies: a kill at a different moment each time
            proc.wait(timeout=duration * 1.1 * (index + 1) / kills)
            outcomes["finished"] += 1
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            left = leftovers(folder)
            if unnamed_temps(folder):  # a named temp exists only in the microseconds before a rename
                assert left == []  # no temp file, so no key outside the psk_file
            else:  # elsewhere one may be left (no more readable than the file) until the next run removes it
                assert all(n.endswith(".tmp") and (folder / n).stat().st_mode == path.stat().st_mode for n in left)
            state = classify(path, sim_state, name)
            if state == "agree":
                state = "old in both" if stored(sim_state, name)[1] == before else "new in both"
            outcomes[state] += 1
        keys.add(stored(sim_state, name)[1])
    print(f"\n{kills} runs over {duration:.2f} s each: {outcomes}")
    assert outcomes["finished"] <= kills // 2  # most runs were really killed
    proc = subprocess.run(argv, capture_output=True)  # the next run settles whatever was left
    assert proc.returncode == 0, proc.stderr
    assert classify(path, sim_state, name) == "agree" and pskfile.PskFile(path).pending() == {}
    assert leftovers(folder) == []
    identity, key = stored(sim_state, name)
    broker = Broker(tmp_path, path).start()
    try:
        assert broker.accepts(identity, key)
        assert not any(broker.accepts(identity, old) for old in keys - {key})
    finally:
        broker.stop()


CRASHING_RUN = """
import os, sys
from at import psk, pskfile
from at.soc import SoC
url, path, crash_at = sys.argv[1], sys.argv[2], int(sys.argv[3])
count = 0

def boundary():
    global count
    count += 1
    if count == crash_at:
        os._exit(86)  # no cleanup, no finally: as a kill would

def around(owner, name, after=True):
    real = getattr(owner, name)
    def wrapped(*args, **kwargs):
        boundary()
        result = real(*args, **kwargs)
        if after:
            boundary()
        return result
    setattr(owner, name, wrapped)

around(SoC, "response")            # before each AT command is sent, and after its answer
around(pskfile, "atomic_write")    # before and after each psk_file replacement
around(os, "replace", after=False) # between a temp file's naming and its rename (psk_file and the kit's store)
with SoC(url) as soc:
    psk.provision_psk(soc, psk_file=path)
print(count)
"""


def test_a_crash_at_every_step_is_settled_by_the_next_run(name, tmp_path, sim_state):
    """Deterministic: the process ends (os._exit) at each I/O boundary in turn, then a normal run follows."""
    folder = tmp_path / "psk"
    folder.mkdir()
    path = folder / "psk_file.txt"
    path.write_text(HEADER)
    path.chmod(0o600)
    url = f"sim://{name}"
    with at.SoC(url) as soc:
        provision_psk(soc, psk_file=path)
    seen = {"agree": 0, "pending": 0, "temp left": 0, "kept": 0, "dropped": 0}
    crash_at = 1
    while True:
        proc = subprocess.run([sys.executable, "-c", CRASHING_RUN, url, str(path), str(crash_at)], capture_output=True,
                              text=True, timeout=60)
        if proc.returncode == 0:
            break
        assert proc.returncode == 86, proc.stderr
        left = leftovers(folder)
        if left:  # only possible in the microseconds between naming a temp file and renaming it
            seen["temp left"] += 1
            assert len(left) == 1 and left[0].startswith(".psk_file.txt.") and left[0].endswith(".tmp")
            assert (folder / left[0]).stat().st_mode == path.stat().st_mode  # no wider than the file itself
        state = classify(path, sim_state, name)
        seen[state] += 1
        with at.SoC(url) as soc:
            result = provision_psk(soc, psk_file=path)
        if state == "pending":
            seen[result.settled] += 1
        assert classify(path, sim_state, name) == "agree" and leftovers(folder) == []
        crash_at += 1
    steps = int(proc.stdout)
    print(f"\n{steps} crash points: {seen}")
    assert crash_at == steps + 1 and steps >= 20
    assert seen["pending"] > 0 and seen["kept"] > 0 and seen["dropped"] > 0 and seen["temp left"] > 0


WRITER = """
import sys
from at.pskfile import PskFile
book = PskFile(sys.argv[1])
for index in range(int(sys.argv[3])):
    identity = f"{sys.argv[2]}-{index}"
    book.begin(identity, "ab" * 16)
    book.commit(identity, "cd" * 16)
"""


def test_threads_and_processes_updating_one_file_lose_no_line(tmp_path):
    path = tmp_path / "psk_file.txt"
    path.write_text(HEADER)
    per_writer, processes, threads = 40, 4, 4
    started = time.monotonic()
    procs = [subprocess.Popen([sys.executable, "-c", WRITER, str(path), f"proc{i}", str(per_writer)])
             for i in range(processes)]

    def write(tag):
        book = pskfile.PskFile(path)
        for index in range(per_writer):
            book.begin(f"{tag}-{index}", "ab" * 16)
            book.commit(f"{tag}-{index}", "cd" * 16)

    workers = [threading.Thread(target=write, args=(f"thread{i}",)) for i in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert all(proc.wait(timeout=300) == 0 for proc in procs)
    elapsed = time.monotonic() - started
    writers = processes + threads
    lines = path.read_text().splitlines()
    entries = pskfile.read_psk_file(path)
    print(f"\n{writers * per_writer} identities, {2 * writers * per_writer} locked updates in {elapsed:.1f} s: "
          f"{len(lines) - 2} entry lines kept")
    assert len(lines) == 2 + writers * per_writer and len(entries) == 1 + writers * per_writer
    assert all(entries[f"{w}-{i}"] == "cd" * 16 for w in [f"proc{n}" for n in range(processes)]
               + [f"thread{n}" for n in range(threads)] for i in range(per_writer))
    assert path.read_text().startswith(HEADER) and pskfile.PskFile(path).pending() == {}
    assert leftovers(tmp_path) == []
