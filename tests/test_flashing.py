"""Flashing across its real boundaries: a fake pynrfjprog HighLevel (real APIError codes) and a fake
`nrfutil` executable on PATH that records its argv. Everything above them is the real code."""
import hashlib
import json
import os
import stat
import sys
import textwrap
import types
from pathlib import Path
from types import SimpleNamespace

import pytest

from at import firmware, flashing, programmer
from at.errors import CMEError, FlashError
from at.programmer import check_hex, choose_probe
from tests.conftest import one_error, run_cmng
from tests.hexserve import HexServer, Images, hex_file

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
    probes = [960123456]
    programmed = []  # (path, sha256 of the file when the probe was asked to program it)

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
            return list(probes)

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
            programmed.append((path, hashlib.sha256(Path(path).read_bytes()).hexdigest()))

        def reset(self):
            calls.append(("reset",))

    fake = types.ModuleType("pynrfjprog.HighLevel")
    fake.API, fake.DebugProbe = API, DebugProbe
    for enum_name in ("CoProcessor", "EraseAction", "VerifyAction", "ResetAction", "ProgramOptions"):
        setattr(fake, enum_name, getattr(Parameters, enum_name))
    monkeypatch.setitem(sys.modules, "pynrfjprog.HighLevel", fake)
    monkeypatch.setattr(pynrfjprog, "HighLevel", fake, raising=False)
    return SimpleNamespace(calls=calls, failures=failures, Parameters=Parameters, probes=probes, programmed=programmed)


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


def test_x_without_a_fetchable_hex_stops_before_touching_the_kit(fake_nrfutil, name, offline_firmware):
    """The real manifest, no internet (tests send it to a closed loopback proxy): one line, nothing flashed."""
    proc = run_cmng("list", f"sim://{name}", "-x", "--programmer", "nrfutil")
    line = one_error(proc)
    assert proc.returncode == 11 and line.startswith("cmng: error: no verified at_client for the nRF9160 DK")
    assert "cannot reach nordicsemiconductor.github.io" in line and "cannot reach raw.githubusercontent.com" in line
    assert "'cmng hex fetch nrf9160dk' (on a station without internet: --from DIR_OR_URL)" in line
    assert "CONFIG_AT_HOST_CMD_MAX_LEN=4096" in line and "--at_client_hex PATH" in line
    assert programs(fake_nrfutil.calls()) == []
    assert not offline_firmware.exists() or list(offline_firmware.iterdir()) == []


def test_at_client_hex_that_is_not_intel_hex_is_refused_before_the_programmer(fake_nrfutil, name, tmp_path):
    bad = tmp_path / "zephyr.elf"
    bad.write_bytes(b"\x7fELF\x02\x01")
    proc = run_cmng("list", f"sim://{name}", "-x", "--programmer", "nrfutil", "--at_client_hex", str(bad))
    assert proc.returncode == 7 and "is not a valid Intel HEX file" in proc.stderr.decode()
    assert fake_nrfutil.calls() == []  # nrfutil was not even asked for its probes


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
    with pytest.raises(FlashError, match="Thingy:91 has no J-Link on board: name an external debug probe.*MCUboot"):
        flashing.run_with_firmware(lambda: 0, port=sim.path, program_hex=True, app_hex=None, at_client_hex=hexes[0])


@pytest.mark.parametrize("probe", [50123456, 960123456])  # a J-Link, or an nRF9160 DK's Debug out
def test_thingy_with_an_external_probe_gets_the_thingy_build(monkeypatch, fake_highlevel, published, pty_sim,
                                                              offline_firmware, probe):
    server, images, manifest = published
    server.serve(images)
    sim = pty_sim()
    thingy = SimpleNamespace(device=sim.path, vid=0x1915, pid=0x9100, serial_number="THINGY91_ABC", location="1-2:1.0")
    monkeypatch.setattr("serial.tools.list_ports.comports", lambda *a, **k: [thingy])
    fake_highlevel.probes[:] = [probe]  # the Thingy's USB identity tells the board, not the probe's serial
    flashing.run_with_firmware(lambda: 0, port=sim.path, program_hex=True, app_hex=None, serial_number=str(probe),
                               programmer="pynrfjprog", manifest=manifest)
    assert server.requests == [f"/{hex_file('thingy91')}"]
    assert fake_highlevel.programmed == [(str(offline_firmware / hex_file("thingy91")),
                                          hashlib.sha256(images.content["thingy91"]).hexdigest())]


def test_wait_for_at_polls_until_the_port_answers(tmp_path):
    with pytest.raises(FlashError, match="did not answer AT within 1 s"):
        flashing.wait_for_at(str(tmp_path / "ttyGone"), timeout=1.0, interval=0.2)


# ------------------------------------------------------------------ -x with Nordic's published builds

@pytest.fixture
def published(tmp_path):
    """A loopback HTTP server publishing small test at_client images, and a manifest naming them."""
    server = HexServer()
    images = Images(tmp_path, [server.base])
    yield server, images, firmware.load_manifest(images.manifest)
    server.stop()


@pytest.mark.parametrize("serial,board", [(960123456, "nrf9160dk"), (1050123456, "nrf9161dk")])
def test_x_picks_the_board_by_serial_number_and_fetches_when_missing(fake_highlevel, published, mem_url,
                                                                     offline_firmware, serial, board):
    server, images, manifest = published
    server.serve(images)
    fake_highlevel.probes[:] = [serial]
    notes, stages = [], []
    for _ in range(2):  # the second run uses the verified cached file
        flashing.run_with_firmware(lambda: None, port=mem_url, program_hex=True, app_hex=None,
                                   programmer="pynrfjprog", manifest=manifest, notify=notes.append,
                                   progress=lambda stage, pct: stages.append((stage, pct)))
    cached = str(offline_firmware / hex_file(board))
    expected = hashlib.sha256(images.content[board]).hexdigest()
    assert fake_highlevel.programmed == [(cached, expected), (cached, expected)]
    assert server.requests == [f"/{hex_file(board)}"]
    assert sum("TEST LICENSE NOTE" in note for note in notes) == 1
    fetching = [pct for stage, pct in stages if stage == f"fetching {hex_file(board)}"]
    assert len(fetching) >= 2 and fetching[-1] == 100.0 and fetching == sorted(fetching)


@pytest.mark.parametrize("mode", ["tampered", "truncated"])
def test_x_never_flashes_an_unverified_download(fake_highlevel, published, mem_url, offline_firmware, mode):
    server, images, manifest = published
    data = images.content["nrf9160dk"]
    server.routes[f"/{hex_file('nrf9160dk')}"] = ("file", data.replace(b"1", b"2", 1)) if mode == "tampered" \
        else ("truncated", data)
    with pytest.raises(flashing.AtClientUnavailable, match="no verified at_client for the nRF9160 DK") as err:
        flashing.run_with_firmware(lambda: None, port=mem_url, program_hex=True, app_hex=None,
                                   programmer="pynrfjprog", manifest=manifest)
    assert err.value.board == "nrf9160dk"
    assert fake_highlevel.programmed == [] and list(offline_firmware.iterdir()) == []


def test_x_finds_the_probe_before_any_download(fake_highlevel, published, mem_url):
    server, images, manifest = published
    server.serve(images)
    fake_highlevel.probes[:] = []
    with pytest.raises(FlashError, match="no debug probe found"):
        flashing.run_with_firmware(lambda: None, port=mem_url, program_hex=True, app_hex=None,
                                   programmer="pynrfjprog", manifest=manifest)
    assert server.requests == [] and fake_highlevel.programmed == []


@pytest.mark.parametrize("serial,message", [
    (1051123456, "no at_client build for the nRF9151 DK: build nrf/samples/cellular/at_client for nrf9151dk/nrf9151/ns"),
    (50123456, "J-Link 50123456 is not an nRF91 DK's on-board probe"),
])
def test_x_without_a_published_build_says_how_to_get_one(fake_highlevel, published, mem_url, serial, message):
    server, images, manifest = published
    server.serve(images)
    fake_highlevel.probes[:] = [serial]
    with pytest.raises(flashing.AtClientUnavailable, match=message):
        flashing.run_with_firmware(lambda: None, port=mem_url, program_hex=True, app_hex=None,
                                   programmer="pynrfjprog", manifest=manifest)
    assert server.requests == [] and fake_highlevel.programmed == []


def test_x_uses_a_verified_cached_file_without_the_network(fake_highlevel, published, mem_url, offline_firmware):
    server, images, manifest = published
    images.put(offline_firmware)  # e.g. copied from a station that fetched it
    flashing.run_with_firmware(lambda: None, port=mem_url, program_hex=True, app_hex=None,
                               programmer="pynrfjprog", manifest=manifest)
    assert server.requests == [] and [p for p, _ in fake_highlevel.programmed] == [
        str(offline_firmware / hex_file("nrf9160dk"))]


def test_cmng_x_fetches_the_kits_build_when_missing_then_uses_the_cache(fake_nrfutil, published, name, monkeypatch,
                                                                        offline_firmware):
    server, images, _ = published
    server.serve(images)
    monkeypatch.setenv("NRF91_AT_HEX_MANIFEST", str(images.manifest))
    monkeypatch.setenv("FAKE_NRFUTIL_PROBES", "001050777888")  # an nRF9161 DK
    for _ in range(2):
        proc = run_cmng("imei", f"sim://{name}", "-x", "--programmer", "nrfutil")
        assert proc.returncode == 0, proc.stderr.decode()
    cached = str(offline_firmware / hex_file("nrf9161dk"))
    assert programs(fake_nrfutil.calls()) == [cached, cached]
    assert server.requests == [f"/{hex_file('nrf9161dk')}"]


def test_cmng_x_refuses_a_tampered_download_and_says_how_to_get_one(fake_nrfutil, published, name, monkeypatch,
                                                                     offline_firmware):
    server, images, _ = published
    server.serve(images)
    server.routes[f"/{hex_file('nrf9160dk')}"] = ("file", images.content["nrf9160dk"].replace(b"F", b"E", 1))
    monkeypatch.setenv("NRF91_AT_HEX_MANIFEST", str(images.manifest))
    proc = run_cmng("list", f"sim://{name}", "-x", "--programmer", "nrfutil")
    line = one_error(proc)
    assert proc.returncode == 11 and "refused (a tampered or wrong file)" in line and "cmng hex fetch nrf9160dk" in line
    assert programs(fake_nrfutil.calls()) == [] and list(offline_firmware.iterdir()) == []
