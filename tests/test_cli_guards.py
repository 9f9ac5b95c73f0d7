"""psk guards, Ctrl-C, the fleet runner and nrf91-sim's refusals, through the real processes."""
import os
import subprocess
import sys

import pytest

from at.cli import app
from at.cli import exitcodes as codes
from at.cli.fleet import run_each
from tests.conftest import one_error, run_cmng, script


def test_psk_refuses_the_same_kit_twice_before_touching_any(name, tmp_path, pty_sim):
    psk_file = tmp_path / "psk_file.txt"
    other = f"sim://{name}-other"
    before = run_cmng("list", other).stdout
    for ports in ([other, f"sim://{name}", f"sim://{name}"], [other, f"sim://{name}", f"sim://{name}?latency=0.01"]):
        proc = run_cmng("psk", *ports, "--psk_file", str(psk_file))
        assert proc.returncode == codes.EXIT_VALIDATION and "once per run" in one_error(proc)
    sim = pty_sim()
    link = tmp_path / "ttyKit"
    link.symlink_to(sim.path)
    aliased = run_cmng("psk", sim.path, str(link), "--psk_file", str(psk_file))
    assert aliased.returncode == codes.EXIT_VALIDATION and "same kit" in one_error(aliased)
    assert not psk_file.exists() and run_cmng("list", other).stdout == before


def test_psk_warns_on_reserved_tags_notes_replacement_and_documents_defaults(name, tmp_path):
    psk_file = tmp_path / "psk_file.txt"
    port = f"sim://{name}"
    reserved = run_cmng("psk", port, "--sec_tag", "16842753", "--psk_file", str(psk_file))
    assert reserved.returncode == 0 and "warning: sec_tag 16842753 is in Nordic's reserved range" in reserved.stderr.decode()
    plain = run_cmng("psk", port, "--psk-file", str(psk_file))
    assert plain.returncode == 0 and "warning" not in plain.stderr.decode()
    assert "replaced the previous PSK" in plain.stderr.decode()
    helped = run_cmng("psk", "--help").stdout.decode()
    assert "1234" in helped and "psk_file.txt" in helped and "nrf-" in helped


def test_psk_fleet_exit_9_when_some_kits_fail(name, tmp_path):
    proc = run_cmng("psk", f"sim://{name}", str(tmp_path / "ttyNone"), "--psk_file", str(tmp_path / "f.txt"))
    assert proc.returncode == codes.EXIT_SOME_KITS and "Traceback" not in proc.stderr.decode()


def test_fleet_runs_every_port_in_its_own_thread():
    import threading

    barrier = threading.Barrier(20, timeout=5)  # only passes if all 20 jobs run at once: no thread cap

    def job(port):
        barrier.wait()
        if port == "p3":
            raise ValueError("bad kit")
        return port.upper()

    outcomes = run_each([f"p{i}" for i in range(20)], job)
    assert [o.port for o in outcomes] == [f"p{i}" for i in range(20)]
    assert outcomes[0].value == "P0" and not outcomes[3].ok and str(outcomes[3].error) == "bad kit"


def test_ctrl_c_is_130_with_the_state_it_left(monkeypatch, capsys, mem_url):
    class Interrupted(KeyboardInterrupt):
        detail = "CFUN could not be restored to 1"

    def interrupted(args, ctx):
        raise Interrupted()

    monkeypatch.setattr(app.load("imei"), "run", interrupted)
    assert app.main(["imei", mem_url, "--json"]) == codes.EXIT_INTERRUPTED
    captured = capsys.readouterr()
    assert [line for line in captured.err.splitlines() if "error:" in line] == [
        "cmng: error: interrupted: CFUN could not be restored to 1"]
    assert '"exit_code": 130' in captured.out

    def plain(args, ctx):
        raise KeyboardInterrupt

    monkeypatch.setattr(app.load("imei"), "run", plain)
    assert app.main(["imei", mem_url]) == codes.EXIT_INTERRUPTED
    assert "interrupted" in capsys.readouterr().err


def test_nrf91_sim_refuses_to_replace_a_file_and_a_state_file(tmp_path, name):
    regular = tmp_path / "keep.txt"
    regular.write_text("mine")
    for argv in (["--link", str(regular)], ["--state", str(regular)]):
        proc = subprocess.run([script("nrf91-sim"), name, *argv], capture_output=True, timeout=20)
        assert proc.returncode == 2
        lines = [line for line in proc.stderr.decode().splitlines() if "error:" in line]
        assert len(lines) == 1 and "Traceback" not in proc.stderr.decode()
    assert regular.read_text() == "mine"


def test_nrf91_sim_without_ptys_says_so(name):
    code = f"import os, sys; del os.openpty; from at.sim.__main__ import main; sys.exit(main([{name!r}]))"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, timeout=20)
    assert proc.returncode == 2 and b"pseudo-terminal" in proc.stderr and b"Traceback" not in proc.stderr


def test_sim_state_folder_comes_from_platformdirs(monkeypatch):
    import platformdirs

    from at.sim.store import default_state_dir

    monkeypatch.delenv("NRF91_SIM_STATE_DIR")
    assert str(default_state_dir()).startswith(platformdirs.user_cache_dir("nrf91-at", appauthor=False))


@pytest.mark.skipif(not hasattr(os, "openpty"), reason="no pseudo-terminals")
def test_ports_helper_knows_one_kit_by_two_names(tmp_path):
    from at.ports import kit_key

    assert kit_key("sim://a?latency=1") == kit_key("sim://a") != kit_key("sim://b")
    link = tmp_path / "alias"
    link.symlink_to("/dev/null")
    assert kit_key(str(link)) == kit_key("/dev/null")
    assert kit_key("com3") == kit_key("COM3")
