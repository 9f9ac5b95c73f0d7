"""Flashing across its real boundaries: a fake pynrfjprog HighLevel (real APIError codes) and a fake
`nrfutil` executable on PATH that records its argv. Everything above them is the real code."""
import json
import os
import stat
import sys
import textwrap
import types
from pathlib import Path
from types import SimpleNamespace

import pytest

from at import flashing, programmer
from at.errors import CMEError, FlashError
from at.programmer import check_hex, choose_probe
from tests.conftest import run_cmng

VALID_HEX = ":020000040000FA\n:10000000000102030405060708090A0B0C0D0E0F78\n:00000001FF\n"


@pytest.fixture
def hexes(tmp_path):
    at_client = tmp_path / "at_client.hex"
    app = tmp_path / "app.hex"
    at_client.write_text(VALID_HEX)
    app.write_text(VALID_HEX)
    return str(at_client), str(app)


# ------------------------------------------------------------------ hex files

@pytest.mark.parametrize("content,message", [
    (None, "does not exist"), ("", "is empty"), ("\x00\x01binary\xff", "not an Intel HEX file"),
    (":10000000000102030405060708090A0B0C0D0E0F00\n:00000001FF\n", "bad checksum"),
    (":020000040000FA\n", "no end-of-file record"), ("hello world\n", "not a valid Intel HEX")])
def test_bad_hex_files_are_refused(tmp_path, content, message):
    path = tmp_path / "f.hex"
    if content is not None:
        path.write_bytes(content.encode("latin-1"))
    with pytest.raises(FlashError, match=message):
        check_hex(str(path))


def test_valid_hex_is_accepted(hexes):
    assert check_hex(hexes[0]).name == "at_client.hex"


def test_probe_choice_never_guesses_between_several():
    assert choose_probe(["960123456"], None) == "960123456"
    assert choose_probe(["960123456", "1050111222"], "000960123456") == "960123456"
    with pytest.raises(FlashError, match="several debug probes"):
        choose_probe(["1", "2"], None)
    with pytest.raises(FlashError, match="no debug probe found"):
        choose_probe([], None)
    with pytest.raises(FlashError, match="no debug probe with serial number 7"):
        choose_probe(["1"], "7")


# ------------------------------------------------------------------ pynrfjprog (fake HighLevel)

@pytest.fixture
def fake_highlevel(monkeypatch):
    import pynrfjprog
    from pynrfjprog import Parameters
    from pynrfjprog.APIError import APIError

    calls = []
    failures = {}

    def maybe_fail(where):
        if where in failures:
            raise APIError(failures[where])

    class API:
        def __enter__(self):
            maybe_fail("open")
            calls.append(("open",))
            return self

        def __exit__(self, *exc):
            calls.append(("close",))

        def get_connected_probes(self):
            return [960123456]

    class DebugProbe:
        def __init__(self, api, snr, coprocessor):
            maybe_fail("probe")
            calls.append(("probe", snr, coprocessor))

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            calls.append(("probe_close",))

        def program(self, path, program_options):
            maybe_fail("program")
            calls.append(("program", path, program_options.erase_action, program_options.verify,
                          program_options.reset))

        def reset(self):
            calls.append(("reset",))

    fake = types.ModuleType("pynrfjprog.HighLevel")
    fake.API, fake.DebugProbe = API, DebugProbe
    for enum_name in ("CoProcessor", "EraseAction", "VerifyAction", "ResetAction", "ProgramOptions"):
        setattr(fake, enum_name, getattr(Parameters, enum_name))
    monkeypatch.setitem(sys.modules, "pynrfjprog.HighLevel", fake)
    monkeypatch.setattr(pynrfjprog, "HighLevel", fake, raising=False)
    return SimpleNamespace(calls=calls, failures=failures, Parameters=Parameters)


def test_pynrfjprog_programs_the_application_core_with_enum_options(fake_highlevel, hexes):
    p = programmer.PynrfjprogProgrammer()
    assert p.probes() == ["960123456"]
    p.program(hexes[0], "960123456")
    P = fake_highlevel.Parameters
    probe = next(c for c in fake_highlevel.calls if c[0] == "probe")
    assert probe == ("probe", 960123456, P.CoProcessor.CP_APPLICATION) and isinstance(probe[2], P.CoProcessor)
    prog = next(c for c in fake_highlevel.calls if c[0] == "program")
    assert prog == ("program", hexes[0], P.EraseAction.ERASE_SECTOR, P.VerifyAction.VERIFY_READ,
                    P.ResetAction.RESET_SYSTEM)
    assert ("reset",) in fake_highlevel.calls and fake_highlevel.calls[-1] == ("close",)


@pytest.mark.parametrize("where,code,message", [
    ("open", -151, "libusb"), ("probe", -101, "J-Link software"), ("program", -10, "not connected")])
def test_pynrfjprog_errors_are_explained(fake_highlevel, hexes, where, code, message):
    fake_highlevel.failures[where] = code
    with pytest.raises(FlashError, match=message) as err:
        programmer.PynrfjprogProgrammer().program(hexes[0], "960123456")
    assert str(code) in str(err.value)


def test_real_pynrfjprog_without_jlink_fails_in_one_line(name, hexes):
    proc = run_cmng("list", f"sim://{name}", "-x", "--programmer", "pynrfjprog", "--at_client_hex", hexes[0])
    stderr = proc.stderr.decode()
    assert proc.returncode == 7, stderr
    assert "Traceback" not in stderr
    assert len([line for line in stderr.splitlines() if "error" in line]) == 1


# ------------------------------------------------------------------ nrfutil (fake executable)

FAKE_NRFUTIL = textwrap.dedent('''
    import json, os, sys
    args = sys.argv[1:]
    with open(os.environ["FAKE_NRFUTIL_LOG"], "a") as log:
        log.write(json.dumps(args) + "\\n")
    mode = os.environ.get("FAKE_NRFUTIL_MODE", "ok")
    if mode == "old":
        print("Usage: nrfutil [OPTIONS] COMMAND [ARGS]...\\nError: No such command 'device'.", file=sys.stderr)
        sys.exit(2)
    if args == ["device", "--help"]:
        print("Usage: nrfutil device [OPTIONS] <COMMAND>"); sys.exit(0)
    assert args[:2] == ["--json", "device"], args
    emit = lambda event: print(json.dumps(event), flush=True)
    if args[2] == "list":
        devices = [{"serialNumber": s, "traits": {"jlink": True, "serialPorts": True}}
                   for s in os.environ.get("FAKE_NRFUTIL_PROBES", "000960123456").split(",") if s]
        devices.append({"serialNumber": "THINGY91_X", "traits": {"jlink": False, "mcuboot": True}})
        emit({"type": "task_begin", "data": {"task": {"id": "1", "description": "list"}}})
        emit({"type": "task_end", "data": {"task": {"id": "1"}, "result": "success", "data": {"devices": devices}}})
    elif args[2] in ("program", "reset"):
        for pct in (0, 50, 100):
            emit({"type": "task_progress", "data": {"task": {"id": "2"},
                  "progress": {"progressPercentage": pct, "description": "Programming"}}})
        if mode == "fail":
            emit({"type": "task_end", "data": {"task": {"id": "2"}, "result": "fail",
                  "error": {"code": 24, "description": "Probe not connected"}}})
            sys.exit(1)
        emit({"type": "task_end", "data": {"task": {"id": "2"}, "result": "success"}})
''')


@pytest.fixture
def fake_nrfutil(tmp_path, monkeypatch):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    exe = bin_dir / "nrfutil"
    exe.write_text(f"#!{sys.executable}\n{FAKE_NRFUTIL}")
    exe.chmod(exe.stat().st_mode | stat.S_IXUSR)
    log = tmp_path / "nrfutil.log"
    log.touch()
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("FAKE_NRFUTIL_LOG", str(log))

    def calls():
        return [json.loads(line) for line in log.read_text().splitlines()]

    return SimpleNamespace(calls=calls, log=log)


def programs(calls):
    return [c[c.index("--firmware") + 1] for c in calls if "program" in c]


def test_nrfutil_backend_args_probes_and_progress(fake_nrfutil, hexes):
    p = programmer.NrfutilProgrammer()
    assert p.probes() == ["000960123456"]  # the Thingy has no J-Link trait
    seen = []
    p.program(hexes[0], "000960123456", progress=lambda stage, pct: seen.append(pct))
    assert fake_nrfutil.calls()[-1] == [
        "--json", "device", "program", "--firmware", hexes[0], "--serial-number", "000960123456",
        "--options", "chip_erase_mode=ERASE_RANGES_TOUCHED_BY_FIRMWARE,verify=VERIFY_READ,reset=RESET_SYSTEM"]
    assert seen == [0, 50, 100]


def test_nrfutil_failure_and_old_version_are_explained(fake_nrfutil, hexes, monkeypatch):
    monkeypatch.setenv("FAKE_NRFUTIL_MODE", "fail")
    with pytest.raises(FlashError, match="Probe not connected"):
        programmer.NrfutilProgrammer().program(hexes[0], "1")
    monkeypatch.setenv("FAKE_NRFUTIL_MODE", "old")
    with pytest.raises(FlashError, match="old pip nrfutil 6.x"):
        programmer.NrfutilProgrammer()


def test_auto_says_why_nothing_can_flash(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setitem(sys.modules, "pynrfjprog", None)  # as if not installed
    with pytest.raises(FlashError, match="no way to flash.*nrfutil is not on PATH.*pynrfjprog"):
        programmer.select_programmer("auto")


def test_several_probes_stop_with_the_list(fake_nrfutil, hexes, monkeypatch, mem_url):
    monkeypatch.setenv("FAKE_NRFUTIL_PROBES", "000960123456,001050999888")
    with pytest.raises(FlashError, match="000960123456, 001050999888"):
        flashing.run_with_firmware(lambda: 0, port=mem_url, program_hex=True, app_hex=None,
                                   programmer="nrfutil", at_client_hex=hexes[0])
    assert programs(fake_nrfutil.calls()) == []


def test_at_client_then_work_then_app(fake_nrfutil, hexes, mem_url):
    order = []
    result = flashing.run_with_firmware(lambda: order.append("work") or 42, port=mem_url, program_hex=True,
                                        app_hex=hexes[1], programmer="nrfutil", at_client_hex=hexes[0])
    assert result == 42 and order == ["work"]
    assert programs(fake_nrfutil.calls()) == [hexes[0], hexes[1]]


@pytest.mark.parametrize("failure", [CMEError("AT%CMNG=2,1,0", "+CME ERROR: 513", 513), KeyboardInterrupt()])
def test_app_is_flashed_back_after_failure_and_ctrl_c(fake_nrfutil, hexes, mem_url, failure):
    def work():
        raise failure

    with pytest.raises(type(failure)):
        flashing.run_with_firmware(work, port=mem_url, program_hex=True, app_hex=hexes[1],
                                   programmer="nrfutil", at_client_hex=hexes[0])
    assert programs(fake_nrfutil.calls()) == [hexes[0], hexes[1]]


def test_cmng_e2e_flashes_app_after_a_failed_read(fake_nrfutil, hexes, name):
    proc = run_cmng("read", f"sim://{name}", "--sec_tag", "99", "--cred_type", "0", "-x", "--programmer", "nrfutil",
                    "--at_client_hex", hexes[0], "--program_app", hexes[1], "-s", "960123456")
    stderr = proc.stderr.decode()
    assert proc.returncode == 4, stderr  # the read's own error decides the exit code
    assert "513" in stderr and "flashing the application" in stderr and "Traceback" not in stderr
    assert programs(fake_nrfutil.calls()) == [hexes[0], hexes[1]]


def test_missing_board_hex_stops_before_touching_the_kit(fake_nrfutil, name, tmp_path):
    proc = run_cmng("list", f"sim://{name}", "-x", "--programmer", "nrfutil", cwd=tmp_path)
    assert proc.returncode == 7 and "hex/README.md" in proc.stderr.decode()
    assert "at_client_nrf9160dk.hex" in proc.stderr.decode()
    assert programs(fake_nrfutil.calls()) == []


def test_bad_app_hex_is_refused_before_flashing(fake_nrfutil, hexes, name, tmp_path):
    bad = tmp_path / "app.bin"
    bad.write_bytes(b"\x7fELF")
    proc = run_cmng("list", f"sim://{name}", "-x", "--programmer", "nrfutil", "--at_client_hex", hexes[0],
                    "--program_app", str(bad))
    assert proc.returncode == 7 and "Intel HEX" in proc.stderr.decode()
    assert programs(fake_nrfutil.calls()) == []


def test_thingy_cannot_be_flashed_through_jlink(monkeypatch, hexes, pty_sim):
    sim = pty_sim()
    thingy = SimpleNamespace(device=sim.path, vid=0x1915, pid=0x9100, serial_number="THINGY91_ABC", location="1-2:1.0")
    monkeypatch.setattr("serial.tools.list_ports.comports", lambda *a, **k: [thingy])
    with pytest.raises(FlashError, match="Thingy:91 has no J-Link.*MCUboot"):
        flashing.run_with_firmware(lambda: 0, port=sim.path, program_hex=True, app_hex=None, at_client_hex=hexes[0])


def test_wait_for_at_polls_until_the_port_answers(tmp_path):
    with pytest.raises(FlashError, match="did not answer AT within 1 s"):
        flashing.wait_for_at(str(tmp_path / "ttyGone"), timeout=1.0, interval=0.2)


def test_hex_lookup_by_board(tmp_path, monkeypatch):
    monkeypatch.setenv("NRF91_AT_HEX_DIR", str(tmp_path))
    (tmp_path / "at_client_nrf9151dk.hex").write_text(VALID_HEX)
    assert flashing.find_at_client_hex("nrf9151dk") == tmp_path / "at_client_nrf9151dk.hex"
    with pytest.raises(FlashError, match="--at_client_hex"):
        flashing.find_at_client_hex(None)
    assert Path(flashing.HEX_README).name == "README.md"
