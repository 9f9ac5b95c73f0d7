"""PSK provisioning: psk_file handling, parallel kits, crash safety, and a real Mosquitto broker."""
import json
import os
import shutil
import subprocess

import pytest

import at
from at import pskfile
from at.psk import provision_psk
from at.sim import device
from tests.conftest import run_cmng


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
