"""at.files: atomic replace that keeps owner, group and mode, follows symlinks, never leaves a temp file; the lock."""
import os
import shutil
import stat
import subprocess
import sys
import threading
import time

import pytest

from at import files
from at.files import FileError, atomic_write, locked, remove_stale_temps, stale_temps

ROOT = os.geteuid() == 0 if hasattr(os, "geteuid") else False


def mode_of(path):
    return stat.S_IMODE(os.stat(path).st_mode)


def others(folder, *keep):
    return sorted(p.name for p in folder.iterdir() if p.name not in keep)


def test_new_file_gets_the_mode_asked_whatever_the_umask(tmp_path):
    old = os.umask(0o077)
    try:
        atomic_write(tmp_path / "cert.pem", b"text", 0o644)
    finally:
        os.umask(old)
    assert mode_of(tmp_path / "cert.pem") == 0o644
    atomic_write(tmp_path / "secret", b"key")
    assert mode_of(tmp_path / "secret") == 0o600
    assert others(tmp_path) == ["cert.pem", "secret"]


@pytest.mark.skipif(not ROOT, reason="giving a file another owner needs root")
def test_replacement_keeps_owner_group_and_mode(tmp_path):
    path = tmp_path / "psk_file.txt"
    path.write_bytes(b"old\n")
    os.chown(path, 65534, 65534)
    os.chmod(path, 0o640)
    before = os.stat(path)
    atomic_write(path, b"new\n", 0o600)
    after = os.stat(path)
    assert path.read_bytes() == b"new\n"
    assert after.st_ino != before.st_ino  # replaced, not rewritten in place
    assert (after.st_uid, after.st_gid, mode_of(path)) == (65534, 65534, 0o640)
    assert others(tmp_path) == ["psk_file.txt"]


@pytest.mark.skipif(not ROOT, reason="chown to another group needs root")
def test_new_file_takes_the_group_asked(tmp_path):
    atomic_write(tmp_path / "f", b"x", 0o640, group=65534)
    assert (os.stat(tmp_path / "f").st_gid, mode_of(tmp_path / "f")) == (65534, 0o640)


def test_a_symlink_stays_and_its_target_is_replaced(tmp_path):
    real = tmp_path / "etc" / "psk_file.txt"
    real.parent.mkdir()
    real.write_bytes(b"old\n")
    os.chmod(real, 0o640)
    link = tmp_path / "link.txt"
    link.symlink_to(os.path.relpath(real, tmp_path))
    chain = tmp_path / "chain.txt"
    chain.symlink_to(link)
    atomic_write(chain, b"new\n")
    assert chain.is_symlink() and link.is_symlink()
    assert real.read_bytes() == b"new\n" and mode_of(real) == 0o640
    assert others(real.parent) == ["psk_file.txt"] and others(tmp_path) == ["chain.txt", "etc", "link.txt"]


def test_a_dangling_symlink_creates_its_target(tmp_path):
    link = tmp_path / "psk.txt"
    link.symlink_to(tmp_path / "new.txt")
    atomic_write(link, b"a:00\n", 0o600)
    assert link.is_symlink() and (tmp_path / "new.txt").read_bytes() == b"a:00\n"


def test_a_folder_or_a_missing_folder_is_refused_and_nothing_is_created(tmp_path):
    (tmp_path / "dir").mkdir()
    with pytest.raises(FileError, match="is a folder"):
        atomic_write(tmp_path / "dir", b"x")
    with pytest.raises(FileError, match="cannot create a file in the folder"):
        atomic_write(tmp_path / "missing" / "f", b"x")
    assert others(tmp_path) == ["dir"] and others(tmp_path / "dir") == []


def test_the_temp_file_has_no_name_until_the_rename(tmp_path, monkeypatch):
    if not hasattr(os, "O_TMPFILE"):
        pytest.skip("O_TMPFILE is Linux only; elsewhere a named 0600 temp file is used")
    seen = {}
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(fd):
        seen.setdefault("while writing", others(tmp_path))
        return real_fsync(fd)

    def replace(src, dst):
        seen["at the rename"] = (others(tmp_path), mode_of(src))
        return real_replace(src, dst)

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "replace", replace)
    atomic_write(tmp_path / "psk_file.txt", b"id:00\n")
    assert seen["while writing"] == []
    names, mode = seen["at the rename"]
    assert len(names) == 1 and names[0].startswith(".psk_file.txt.") and mode == 0o600


@pytest.mark.parametrize("named", [False, True], ids=["O_TMPFILE", "named temp"])
def test_a_failed_write_leaves_the_file_and_no_temp(tmp_path, monkeypatch, named):
    if named:
        monkeypatch.delattr(os, "O_TMPFILE", raising=False)
    path = tmp_path / "psk_file.txt"
    path.write_bytes(b"old:00\n")

    def broken(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", broken)
    with pytest.raises(FileError, match="No space left"):
        atomic_write(path, b"new:11\n")
    assert path.read_bytes() == b"old:00\n" and others(tmp_path) == ["psk_file.txt"]


def drop_caps(*caps):
    if not ROOT or not shutil.which("setpriv"):
        pytest.skip("needs root and setpriv (util-linux) to run a process without some capabilities")
    probe = subprocess.run(["setpriv", "--bounding-set", ",".join(f"-{c}" for c in caps), "true"], capture_output=True)
    if probe.returncode != 0:
        pytest.skip(f"cannot drop capabilities here: {probe.stderr.decode().strip()}")
    return ["setpriv", "--bounding-set", ",".join(f"-{c}" for c in caps)]


def test_an_owner_that_cannot_be_kept_refuses_the_write(tmp_path):
    """Root without CAP_CHOWN stands for a user who cannot give the replacement the file's owner."""
    prefix = drop_caps("chown")
    path = tmp_path / "psk_file.txt"
    path.write_bytes(b"old:00\n")
    os.chown(path, 65534, 65534)
    code = f"from at.files import atomic_write; atomic_write({str(path)!r}, b'new:11\\n')"
    proc = subprocess.run([*prefix, sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode != 0 and "FileError: cannot give the replacement" in proc.stderr
    assert path.read_bytes() == b"old:00\n" and others(tmp_path) == ["psk_file.txt"]


def test_stale_temps_are_found_and_removed(tmp_path):
    path = tmp_path / "psk_file.txt"
    path.write_bytes(b"")
    for name in (".psk_file.txt.dead01.tmp", ".psk_file.txt.dead02.tmp", ".other.txt.x.tmp", "psk_file.txt.bak"):
        (tmp_path / name).write_bytes(b"id:00\n")
    assert sorted(p.name for p in stale_temps(path)) == [".psk_file.txt.dead01.tmp", ".psk_file.txt.dead02.tmp"]
    with locked(path):
        assert remove_stale_temps(path) == 2
    assert others(tmp_path) == [".other.txt.x.tmp", ".psk_file.txt.lock", "psk_file.txt", "psk_file.txt.bak"]


def test_the_lock_times_out_with_an_explanation(tmp_path):
    path = tmp_path / "f"
    held, release = threading.Event(), threading.Event()

    def holder():
        with locked(path):
            held.set()
            release.wait(30)

    thread = threading.Thread(target=holder)
    thread.start()
    held.wait(30)
    started = time.monotonic()
    with pytest.raises(FileError, match="stayed locked by another process"):
        with locked(path, timeout=0.3):
            pass
    assert 0.3 <= time.monotonic() - started < 5
    release.set()
    thread.join()
    with locked(path, timeout=1):
        pass


COUNTER = """
import sys
from pathlib import Path
from at.files import atomic_write, locked
path = Path(sys.argv[1])
for _ in range(int(sys.argv[2])):
    with locked(path):
        atomic_write(path, str(int(path.read_text()) + 1).encode())
"""


def test_the_lock_serialises_threads_and_processes(tmp_path):
    path = tmp_path / "counter"
    path.write_text("0")
    procs = [subprocess.Popen([sys.executable, "-c", COUNTER, str(path), "40"]) for _ in range(4)]

    def bump():
        for _ in range(40):
            with locked(path):
                atomic_write(path, str(int(path.read_text()) + 1).encode())

    threads = [threading.Thread(target=bump) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert all(proc.wait(timeout=120) == 0 for proc in procs)
    assert path.read_text() == str(8 * 40)  # every read-modify-write kept
    assert others(tmp_path) == [".counter.lock", "counter"]


def test_the_lock_file_is_beside_the_real_file(tmp_path):
    real = tmp_path / "a" / "f"
    real.parent.mkdir()
    link = tmp_path / "l"
    link.symlink_to(real)
    assert files.lock_path(link) == real.with_name(".f.lock")
