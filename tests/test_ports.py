"""Port discovery: comports() records are faked (the USB boundary); probing talks to real pty sims."""
import json
from types import SimpleNamespace

import pytest

from at import cli, ports
from at.errors import PortError


def record(device, serial, iface, vid=0x1366, pid=0x1015):
    return SimpleNamespace(device=device, vid=vid, pid=pid, serial_number=serial, location=f"3-12.1.3:1.{iface}")


def test_grouping_and_at_port_is_interface_0():
    kits = ports.find_kits([
        record("/dev/ttyACM2", "000960111111", 2), record("/dev/ttyACM0", "000960111111", 0),
        record("/dev/ttyACM1", "000960111111", 1), record("/dev/ttyACM5", "001050222222", 0),
        record("/dev/ttyUSB0", "X", 0, vid=0x0403), record("/dev/ttyACM9", "THINGY91_1", 0, vid=0x1915, pid=0x9100)])
    assert [(k.serial_number, k.at_port, k.name) for k in kits] == [
        ("000960111111", "/dev/ttyACM0", "nRF9160 DK"), ("001050222222", "/dev/ttyACM5", "nRF9161 DK"),
        ("THINGY91_1", "/dev/ttyACM9", "Thingy:91")]
    assert kits[0].ports == ["/dev/ttyACM0", "/dev/ttyACM1", "/dev/ttyACM2"]


def test_macos_without_location_sorts_by_device_name():
    kits = ports.find_kits([SimpleNamespace(device="/dev/cu.usbmodem0009601111113", vid=0x1366, pid=0x1015,
                                            serial_number="S", location=None),
                            SimpleNamespace(device="/dev/cu.usbmodem0009601111111", vid=0x1366, pid=0x1015,
                                            serial_number="S", location=None)])
    assert kits[0].at_port == "/dev/cu.usbmodem0009601111111"


@pytest.fixture
def two_kits(pty_sim, monkeypatch, tmp_path):
    """Kit A answers AT on a real pty; kit B's AT port does not exist."""
    sim = pty_sim()
    records = [record(sim.path, "000960111111", 0), record(str(tmp_path / "gone"), "001051333333", 0)]
    monkeypatch.setattr("serial.tools.list_ports.comports", lambda *a, **k: records)
    return sim, records


def test_auto_picks_the_single_responding_kit(two_kits):
    sim, records = two_kits
    assert ports.auto_port() == sim.path
    with pytest.raises(PortError, match="no kit answers AT"):
        ports.auto_port("001051333333")
    with pytest.raises(PortError, match="no kit with serial number 42"):
        ports.auto_port("42")


def test_auto_refuses_to_guess_between_responding_kits(pty_sim, monkeypatch):
    a, b = pty_sim(device="kit-a"), pty_sim(device="kit-b")
    records = [record(a.path, "000960111111", 0), record(b.path, "000960222222", 0)]
    monkeypatch.setattr("serial.tools.list_ports.comports", lambda *a, **k: records)
    with pytest.raises(PortError, match="several kits answer AT"):
        ports.auto_port()
    assert ports.auto_port("000960222222") == b.path
    monkeypatch.setattr("serial.tools.list_ports.comports", lambda *a, **k: [])
    with pytest.raises(PortError, match="no Nordic kit found"):
        ports.auto_port()


def test_cmng_ports_and_auto(two_kits, capsys):
    sim, _ = two_kits
    assert cli.main(["ports", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert [(k["serial_number"], k["answers_at"]) for k in doc["kits"]] == [("000960111111", True),
                                                                             ("001051333333", False)]
    assert cli.main(["ports"]) == 0
    table = capsys.readouterr().out
    assert "nRF9160 DK" in table and "nRF9151 DK" in table and "yes" in table
    assert cli.main(["imei", "auto", "--json"]) == 0
    captured = capsys.readouterr()
    assert len(json.loads(captured.out)["imei"]) == 15 and f"using {sim.path}" in captured.err
