"""The simulated modem as a pure state machine: commands in, lines out, behind at_host framing."""
import pytest

from at import protocol
from at.sim.at_host import AtHost, AtHostFrontEnd
from at.sim.factory import factory_state
from at.sim.modem import Modem, ModemOptions, imei_for
from at.sim.store import FileStore, MemoryStore


def modem(flavour="nrf91x1", **options) -> Modem:
    return Modem("unit", MemoryStore(lambda: factory_state("unit", flavour)), ModemOptions(flavour=flavour, **options))


_front: dict = {}


def front(m: Modem) -> AtHostFrontEnd:
    if id(m) not in _front:
        _front[id(m)] = AtHostFrontEnd(m.execute, AtHost())
    return _front[id(m)]


def ask(m: Modem, command: str) -> list[str]:
    return protocol.split_lines(front(m).receive(command.encode() + b"\r\n"))


def test_boots_in_cfun0_and_answers_identity_commands():
    m = modem()
    assert ask(m, "AT") == ["OK"]
    assert ask(m, "AT+CFUN?") == ["+CFUN: 0", "OK"]
    assert ask(m, "AT+CFUN=?") == ["+CFUN: (0,1,4,20,21,30,31,40,41,44)", "OK"]
    imei = imei_for("unit")
    assert protocol.is_valid_imei(imei)
    assert ask(m, "AT+CGSN") == [imei, "OK"]
    assert ask(m, "AT+CGSN=1") == [f'+CGSN: "{imei}"', "OK"]
    assert len(ask(m, "AT+CGSN=2")[0].split('"')[1]) == 16
    assert ask(m, "AT+CGSN=3") == ['+CGSN: "12"', "OK"]
    assert ask(m, "AT+CGMI") == ["Nordic Semiconductor ASA", "OK"]
    assert ask(m, "AT+CGMM") == ["nRF9151-LACA", "OK"]
    assert ask(m, "AT+CGMR") == ["mfw_nrf91x1_2.0.2", "OK"]
    assert ask(m, "AT%XMODEMUUID")[0].startswith("%XMODEMUUID: ")
    assert ask(m, "AT+NOPE") == ["ERROR"]
    assert ask(m, "at AT+CGSN") == ["ERROR"]


def test_imei_differs_per_device_name():
    assert imei_for("a") != imei_for("b")


def test_cmee_switches_between_plain_and_numbered_errors():
    m = modem()
    assert ask(m, "AT%CMNG=2,99,0") == ["ERROR"]
    assert ask(m, "AT+CMEE=1") == ["OK"]
    assert ask(m, "AT+CMEE?") == ["+CMEE: 1", "OK"]
    assert ask(m, "AT%CMNG=2,99,0") == ["+CME ERROR: 513"]
    assert ask(m, "AT+NOPE") == ["ERROR"]  # unknown commands stay plain ERROR


def test_cmng_rules():
    m = modem(cmee=1)
    assert ask(m, 'AT%CMNG=0,5,4,"id"') == ["OK"]
    assert ask(m, "AT%CMNG=1,5") == [f'%CMNG: 5,4,"{protocol.sha256_hex("id")}"', "OK"]
    assert ask(m, "AT%CMNG=2,5,4") == [f'%CMNG: 5,4,"{protocol.sha256_hex("id")}","id"', "OK"]
    assert ask(m, 'AT%CMNG=0,5,3,"abcd"') == ["OK"]
    assert ask(m, "AT%CMNG=2,5,3") == ["+CME ERROR: 514"]
    assert ask(m, 'AT%CMNG=0,5,3,"xyz"') == ["+CME ERROR: 527"]
    assert ask(m, 'AT%CMNG=0,5,0,"not pem"') == ["+CME ERROR: 527"]
    assert ask(m, 'AT%CMNG=0,5,4,""') == ["+CME ERROR: 527"]
    assert ask(m, 'AT%CMNG=0,5,6,"x"') == ["+CME ERROR: 514"]
    assert ask(m, 'AT%CMNG=0,4294967294,6,"x"') == ["+CME ERROR: 519"]
    assert ask(m, "AT%CMNG=3,4294967294,6") == ["+CME ERROR: 519"]
    assert ask(m, "AT%CMNG=3,5,4") == ["OK"]
    assert ask(m, "AT%CMNG=3,5,4") == ["+CME ERROR: 513"]
    assert ask(m, "AT+CFUN=1") == ["OK"]
    assert ask(m, 'AT%CMNG=0,5,4,"id"') == ["+CME ERROR: 518"]
    assert ask(m, "AT%CMNG=3,5,3") == ["+CME ERROR: 518"]
    assert ask(m, "AT%CMNG=1,16842753,0")[0].startswith("%CMNG: 16842753,0,")  # list works when active


def test_factory_set_and_modem_owned_entries_depend_on_flavour():
    listed = ask(modem(), "AT%CMNG=1")
    tags = {line.split(",")[0].split()[1] for line in listed[:-1]}
    assert tags == {"16842753", "4294967292", "4294967293", "4294967294"}
    old = ask(modem("nrf9160"), "AT%CMNG=1")
    assert all("429496729" not in line for line in old)


def test_crlf_pem_stored_as_sent_by_default_and_refused_with_527_behind_an_option():
    ca = factory_state("x", "nrf9160")["credentials"][(16842753, 0)].replace("\n", "\r\n")
    assert ask(modem(cmee=1, crlf527=True), f'AT%CMNG=0,9,0,"{ca}"') == ["+CME ERROR: 527"]
    for flavour in ("nrf91x1", "nrf9160"):
        m = modem(flavour, cmee=1)
        assert ask(m, f'AT%CMNG=0,9,0,"{ca}"') == ["OK"]
        assert ask(m, "AT%CMNG=1,9,0")[0] == f'%CMNG: 9,0,"{protocol.sha256_hex(ca)}"'


def test_input_handling_quotes_backspace_and_terminators():
    m = modem()
    fe = front(m)
    # CR/LF inside quotes are data; backspace edits even inside quotes
    assert protocol.split_lines(fe.receive(b'AT%CMNG=0,1,4,"ab\x08c"\r')) == ["OK"]
    assert protocol.split_lines(fe.receive(b"AT%CMNG=2,1,4\r")) == [
        f'%CMNG: 1,4,"{protocol.sha256_hex("ac")}","ac"', "OK"]
    assert fe.receive(b"\r\n\r\n") == b""  # no printable character: no answer
    assert protocol.split_lines(fe.receive(b"A")) == []  # partial command waits
    assert protocol.split_lines(fe.receive(b"T\x00")) == []  # NUL is dropped outside quotes (CR mode)
    assert protocol.split_lines(fe.receive(b"\r")) == ["OK"]


def test_commands_longer_than_the_buffer_are_cut_and_leave_the_quote_open():
    m = modem(cmee=1)
    fe = front(m)
    content = "a" * 5000
    assert ask(m, f'AT%CMNG=0,1,4,"{content}"') == []  # the closing quote was dropped: CR is data now
    assert fe.host.state.inside_quotes and len(fe.host.state.buffer) == 4095
    assert ask(m, "AT") == []  # stuck


def test_echo_urcs_and_zero_sha_options():
    m = modem(echo=True, urcs=True, zero_sha=True)
    lines = ask(m, "AT%CMNG=1,16842753")
    assert lines[0] == "AT%CMNG=1,16842753"
    assert lines[1].startswith("+CEREG:")
    assert lines[3].startswith("%XTIME:")
    assert lines[2].endswith(f'"{protocol.ZERO_SHA}"')
    assert lines[-1] == "OK"
    assert front(m).take_unsolicited() == b"%CESQ: 54,2,18,2\r\n"  # sent once the receiver listens again


def test_file_store_persists_and_is_private(tmp_path):
    store = FileStore(tmp_path, "dev", lambda: factory_state("dev", "nrf91x1"))
    store.put(1, 4, "id")
    store.set_cfun(4)
    again = FileStore(tmp_path, "dev", lambda: pytest.fail("factory must not run twice"))
    assert again.credentials()[(1, 4)] == "id" and again.cfun() == 4
    assert (tmp_path / "dev.json").stat().st_mode & 0o777 == 0o600


def test_link_drops_input_while_a_command_runs_and_delays_answers():
    from at.sim.link import Link, LinkOptions

    now = [0.0]
    link = Link(front(modem()), LinkOptions(latency=0.5, baud=1000, usb_frame=0), clock=lambda: now[0])
    link.write(b"AT\r\n")  # 4 bytes at 1000 baud arrive after 40 ms, answered 0.5 s later
    assert link.available() == 0
    link.write(b"AT+CGMI\r\n")  # pipelined: at_host is not listening
    assert link.dropped == 9
    now[0] = 0.54 + 2 * 0.01 + 0.001
    assert link.read(100) == b"OK"
    link.write(b"AT\r\n")  # the answer is not out yet: still not listening
    assert link.dropped == 13
    now[0] = 0.54 + 4 * 0.01 + 0.001
    assert link.read(100) == b"\r\n"
    link.write(b"AT\r\n")  # once the whole answer is out, input is taken again
    assert link.dropped == 13 and link.available() == 0


def test_readme_lists_every_simulator_option_as_generated():
    from pathlib import Path

    from at.sim.options import OPTIONS, markdown_table

    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    section = readme.split("## The simulator", 1)[1].split("\n## ", 1)[0]
    table = section.split("<!-- sim-options: generated by at.sim.options.markdown_table() -->\n", 1)[1]
    table = table.split("<!-- /sim-options -->", 1)[0]
    assert table == markdown_table(), "regenerate the README table: python -c \"from at.sim.options import " \
                                      "markdown_table; print(markdown_table())\""
    for name in OPTIONS:
        assert f"| `{name}=` | `--{name.replace('_', '-')}` |" in table, name
