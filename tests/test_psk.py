"""PSK provisioning: psk_file handling, parallel kits, crash safety, and a real Mosquitto broker."""
import json
import os
import shutil
import subprocess

import pytest

import at
from at import psk, pskfile
from at.psk import provision_psk
from at.sim import device
from tests.conftest import run_cmng, script


def stored(state_dir, name, sec_tag=1234):
    """What the simulated device holds: (identity, psk), read from its state file."""
    doc = json.loads((state_dir / f"{name}.json").read_text())
    creds = {(c["sec_tag"], c["type"]): c["content"] for c in doc["credentials"]}
    return creds.get((sec_tag, 4)), creds.get((sec_tag, 3))


def test_psk_file_keeps_other_lines_and_replaces_the_identity(tmp_path):
    path = tmp_path / "psk_file.txt"
    path.write_text("# broker keys\nother:abcd\nnrf-1:0000\n\n")
    os.chmod(path, 0o640)
    pskfile.update_psk_file(path, "nrf-1", "1111")
    pskfile.update_psk_file(path, "nrf-2", "2222")
    assert path.read_text() == "# broker keys\nother:abcd\nnrf-1:1111\n\nnrf-2:2222\n"
    assert path.stat().st_mode & 0o777 == 0o640  # an existing file keeps its mode
    assert pskfile.read_psk_file(path) == {"other": "abcd", "nrf-1": "1111", "nrf-2": "2222"}
    with pytest.raises(at.ValidationError, match="psk_file"):
        pskfile.update_psk_file(path, "bad:id", "00")


def test_library_provisioning_records_what_the_device_holds(mem_url, name, tmp_path):
    path = tmp_path / "psk.txt"
    with at.SoC(mem_url) as soc:
        soc.set_functional_mode(1)
        result = provision_psk(soc, psk_file=path, identity_prefix="dev-", psk_bytes=32)
        assert soc.get_functional_mode() == 1  # offline only for the writes
    creds = device._memory[name].credentials()
    assert result.identity == creds[(1234, 4)] == "dev-" + result.imei
    assert len(creds[(1234, 3)]) == 64
    assert pskfile.read_psk_file(path) == {result.identity: creds[(1234, 3)]}
    assert creds[(1234, 3)] not in repr(result)


def test_cli_psk_never_shows_the_key_unless_asked(name, tmp_path, sim_state):
    path = tmp_path / "psk_file.txt"
    proc = run_cmng("psk", f"sim://{name}", "--psk_file", str(path), "-v", "--json")
    assert proc.returncode == 0, proc.stderr
    identity, key = stored(sim_state, name)
    everything = (proc.stdout + proc.stderr).decode()
    assert key not in everything and identity in everything
    assert json.loads(proc.stdout)["results"][0]["identity"] == identity
    shown = run_cmng("psk", f"sim://{name}", "--psk_file", str(path), "--show-psk")
    identity, key = stored(sim_state, name)
    assert key in shown.stdout.decode()
    assert pskfile.read_psk_file(path) == {identity: key}  # re-provisioning replaced the line


def test_one_failing_kit_does_not_stop_the_others(name, tmp_path, sim_state):
    path = tmp_path / "psk_file.txt"
    proc = run_cmng("psk", f"sim://{name}", str(tmp_path / "ttyNothing"), f"sim://{name}b", "--psk_file", str(path))
    assert proc.returncode == 9
    stderr = proc.stderr.decode()
    assert "ttyNothing" in stderr and "1 of 3 kits failed" in stderr and "Traceback" not in stderr
    assert set(pskfile.read_psk_file(path)) == {stored(sim_state, name)[0], stored(sim_state, name + "b")[0]}


def test_eight_concurrent_runs_lose_no_line(name, tmp_path, sim_state):
    path = tmp_path / "psk_file.txt"
    procs = [subprocess.Popen([shutil.which("cmng") or os.path.join(os.path.dirname(os.sys.executable), "cmng"),
                               "psk", f"sim://{name}-{i}", "--psk_file", str(path)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE) for i in range(8)]
    for proc in procs:
        assert proc.wait(timeout=120) == 0, proc.stderr.read()
    entries = pskfile.read_psk_file(path)
    assert len(path.read_text().splitlines()) == 8 and len(entries) == 8
    assert entries == dict(stored(sim_state, f"{name}-{i}") for i in range(8))
    assert path.stat().st_mode & 0o777 == 0o600


def stored_or_none(state_dir, name):
    try:
        return stored(state_dir, name)
    except (FileNotFoundError, json.JSONDecodeError):
        return None, None


def test_example_script_provisions_with_the_original_defaults(name, tmp_path, sim_state):
    import sys
    from pathlib import Path

    example = Path(__file__).resolve().parent.parent / "examples" / "psk_provision.py"
    proc = subprocess.run([sys.executable, str(example), f"sim://{name}"], cwd=tmp_path, capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    identity, key = stored(sim_state, name, sec_tag=1234)
    assert pskfile.read_psk_file(tmp_path / "psk_file.txt") == {identity: key}
    assert key not in proc.stdout + proc.stderr


# ------------------------------------------------------------------ an unusable psk_file: exit 3, kit untouched

def others(folder, *names):
    return sorted(p.name for p in folder.iterdir() if p.name not in names)


def provisioned_kit(name, tmp_path, sim_state):
    """A kit that already has a PSK (recorded in a good file elsewhere): (identity, psk)."""
    good = tmp_path / "good" / "psk_file.txt"
    good.parent.mkdir()
    assert run_cmng("psk", f"sim://{name}", "--psk_file", str(good)).returncode == 0
    return stored(sim_state, name)


def denied_to_root():
    """argv prefix that runs a command as root without the capabilities that let root ignore permissions."""
    if os.geteuid() != 0:
        return []  # permissions apply anyway
    drop = "-dac_override,-dac_read_search,-fowner,-linux_immutable"
    if not shutil.which("setpriv") or subprocess.run(["setpriv", "--bounding-set", drop, "true"]).returncode != 0:
        pytest.skip("running as root, and setpriv cannot drop CAP_DAC_OVERRIDE here: root ignores a read-only mode")
    return ["setpriv", "--bounding-set", drop]


def unusable(kind, tmp_path):
    """(psk_file path, argv prefix, expected message) for one kind of unusable psk_file."""
    folder = tmp_path / "broker"
    folder.mkdir()
    if kind == "folder":
        (folder / "psk_file.txt").mkdir()
        return folder / "psk_file.txt", [], "is a folder"
    if kind == "missing folder":
        return folder / "nope" / "psk_file.txt", [], "does not exist: create it"
    if kind == "dangling symlink into a missing folder":
        (folder / "psk_file.txt").symlink_to(folder / "gone" / "psk.txt")
        return folder / "psk_file.txt", [], "does not exist: create it"
    if kind == "undecodable bytes":
        (folder / "psk_file.txt").write_bytes(b"a:00\n\xff\xfe\xfd:00\n")
        return folder / "psk_file.txt", [], "line 2 is not UTF-8"
    if kind == "a key Mosquitto refuses":
        (folder / "psk_file.txt").write_bytes(b"a:00\nb:0g\n")
        return folder / "psk_file.txt", [], "not hex, so Mosquitto refuses the whole file"
    if kind == "read-only folder":
        (folder / "psk_file.txt").write_bytes(b"a:00\n")
        os.chmod(folder, 0o555)
        return folder / "psk_file.txt", denied_to_root(), "cannot lock"
    if kind == "unreadable file":
        (folder / "psk_file.txt").write_bytes(b"a:00\n")
        os.chmod(folder / "psk_file.txt", 0o200)
        return folder / "psk_file.txt", denied_to_root(), "cannot read psk_file"
    if kind == "folder it cannot enter":
        os.chmod(folder, 0o000)
        return folder / "psk_file.txt", denied_to_root(), "cannot reach psk_file"
    raise AssertionError(kind)


UNUSABLE = ["folder", "missing folder", "dangling symlink into a missing folder", "undecodable bytes",
            "a key Mosquitto refuses", "read-only folder", "unreadable file", "folder it cannot enter"]


@pytest.mark.parametrize("kind", UNUSABLE)
def test_an_unusable_psk_file_exits_3_with_one_line_and_the_kit_untouched(kind, name, tmp_path, sim_state):
    before = provisioned_kit(name, tmp_path, sim_state)
    path, prefix, message = unusable(kind, tmp_path)
    folder_before = others(tmp_path / "broker")
    content = path.read_bytes() if path.is_file() else None
    try:
        proc = subprocess.run([*prefix, script("cmng"), "psk", f"sim://{name}", "--psk_file", str(path)],
                              capture_output=True, text=True, timeout=60)
    finally:
        os.chmod(tmp_path / "broker", 0o755)
    lines = proc.stderr.splitlines()
    assert proc.returncode == 3, proc.stderr
    assert len(lines) == 1 and lines[0].startswith("cmng: error: ") and message in lines[0], proc.stderr
    assert proc.stdout == ""
    assert stored(sim_state, name) == before  # the kit keeps its PSK
    assert others(tmp_path / "broker") == folder_before  # no lock, temp or new file left
    if content is not None:
        assert path.read_bytes() == content


def test_an_immutable_folder_denies_root_too(name, tmp_path, sim_state):
    """chattr +i: a read-only folder even for root with all its capabilities (ext4 and the like)."""
    before = provisioned_kit(name, tmp_path, sim_state)
    folder = tmp_path / "broker"
    folder.mkdir()
    (folder / "psk_file.txt").write_bytes(b"a:00\n")
    if not shutil.which("chattr") or subprocess.run(["chattr", "+i", str(folder)], capture_output=True).returncode:
        pytest.skip("chattr +i is not possible on this filesystem or without CAP_LINUX_IMMUTABLE")
    try:
        proc = run_cmng("psk", f"sim://{name}", "--psk_file", str(folder / "psk_file.txt"))
    finally:
        subprocess.run(["chattr", "-i", str(folder)], check=True)
    assert proc.returncode == 3 and proc.stderr.decode().count("\n") == 1, proc.stderr
    assert "cannot lock" in proc.stderr.decode() and stored(sim_state, name) == before


@pytest.mark.parametrize("prefix", ["#nrf-", "nrf:", "nrf -", "nrf\t", "\x1b[31m"])
def test_an_identity_prefix_mosquitto_cannot_hold_exits_3_before_the_kit(prefix, name, tmp_path, sim_state):
    before = provisioned_kit(name, tmp_path, sim_state)
    proc = run_cmng("psk", f"sim://{name}", "--psk_file", str(tmp_path / "p.txt"), "--identity_prefix", prefix)
    assert proc.returncode == 3 and proc.stderr.decode().count("\n") == 1, proc.stderr
    assert "identity prefix" in proc.stderr.decode()
    assert stored(sim_state, name) == before and not (tmp_path / "p.txt").exists()


def test_a_symlinked_psk_file_stays_a_link_and_keeps_its_mode(name, tmp_path, sim_state):
    real = tmp_path / "etc" / "psk_file.txt"
    real.parent.mkdir()
    real.write_text("other:00ff\n")
    os.chmod(real, 0o640)
    link = tmp_path / "psk_file.txt"
    link.symlink_to(real)
    assert run_cmng("psk", f"sim://{name}", "--psk_file", str(link)).returncode == 0
    identity, key = stored(sim_state, name)
    assert link.is_symlink() and real.read_text() == f"other:00ff\n{identity}:{key}\n"
    assert real.stat().st_mode & 0o777 == 0o640
    assert others(real.parent) == [".psk_file.txt.lock", "psk_file.txt"]


def test_a_stale_temp_file_from_a_killed_run_is_removed(name, tmp_path, sim_state):
    path = tmp_path / "psk_file.txt"
    stale = tmp_path / ".psk_file.txt.deadbeef0000.tmp"
    stale.write_text("nrf-1:00112233\n")
    assert run_cmng("psk", f"sim://{name}", "--psk_file", str(path)).returncode == 0
    assert others(tmp_path, "simstate") == [".psk_file.txt.lock", "psk_file.txt"]


# ------------------------------------------------------------------ an interrupted update is settled by the next run

def test_settle_keeps_a_pending_key_the_kit_holds_and_drops_one_it_lacks(mem_url, tmp_path):
    path = tmp_path / "psk_file.txt"
    path.write_text("other:00ff\n")
    book = pskfile.PskFile(path)
    with at.SoC(mem_url) as soc:
        identity = "nrf-" + soc.get_imei()
        book.begin(identity, "1111")  # a run stopped after marking and writing the kit
        soc.write_credential(1234, 4, identity)
        soc.write_credential(1234, 3, "1111")
        assert book.entries() == {"other": "00ff"}
        assert psk.settle(soc, book, 1234, identity) == "kept"
        assert book.entries() == {"other": "00ff", identity: "1111"} and book.pending() == {}
        book.begin(identity, "2222")  # a run stopped after marking, before the kit
        assert psk.settle(soc, book, 1234, identity) == "dropped"
        assert book.entries() == {"other": "00ff", identity: "1111"} and book.pending() == {}
        assert psk.settle(soc, book, 1234, identity) is None
    assert path.read_text() == f"other:00ff\n{identity}:1111\n"


def test_without_hashes_settle_cannot_tell_and_provisioning_starts_over(name, tmp_path):
    path = tmp_path / "psk_file.txt"
    book = pskfile.PskFile(path)
    url = f"sim://{name}?state=memory&zero_sha=1"
    with at.SoC(url) as soc:
        identity = "nrf-" + soc.get_imei()
        soc.write_credential(1234, 4, identity)
        soc.write_credential(1234, 3, "3333", verify=False)
        book.begin(identity, "3333")  # the kit may hold it, but lists an all-zero hash
        assert psk.settle(soc, book, 1234, identity, drop_unknown=False) is None
        assert book.pending() == {identity: "3333"}
        result = provision_psk(soc, psk_file=path)
    assert result.settled == "dropped" and book.pending() == {}
    assert book.entries() == {identity: device._memory[name].credentials()[(1234, 3)]}


def test_a_kit_lost_mid_write_leaves_a_pending_line_the_next_run_settles(name, tmp_path, sim_state):
    path = tmp_path / "psk_file.txt"
    assert run_cmng("psk", f"sim://{name}", "--psk_file", str(path)).returncode == 0
    identity, old = stored(sim_state, name)
    lost = run_cmng("psk", f"sim://{name}?disconnect_after=150", "--psk_file", str(path))
    assert lost.returncode == 6, lost.stderr  # the port went away
    assert b"pending line" in lost.stderr and b"Traceback" not in lost.stderr
    book = pskfile.PskFile(path)
    assert identity in book.pending() and book.entries()[identity] == old
    again = run_cmng("psk", f"sim://{name}", "--psk_file", str(path), "--json")
    assert again.returncode == 0
    identity, new = stored(sim_state, name)
    assert book.entries() == {identity: new} and book.pending() == {}


def test_example_script_refuses_an_unusable_psk_file_before_the_kit(name, tmp_path, sim_state):
    import sys
    from pathlib import Path

    before = provisioned_kit(name, tmp_path, sim_state)
    (tmp_path / "dir").mkdir()
    example = Path(__file__).resolve().parent.parent / "examples" / "psk_provision.py"
    proc = subprocess.run([sys.executable, str(example), f"sim://{name}", "--psk_file", str(tmp_path / "dir")],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 3 and proc.stderr.count("\n") == 1 and "is a folder" in proc.stderr
    assert stored(sim_state, name) == before
