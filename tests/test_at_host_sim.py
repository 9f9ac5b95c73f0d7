"""The simulated at_host receive side, rule by rule from spec section 1, and its options over sim:// and a pty."""
import os
import select
import time

import pytest
import serial

import at  # noqa: F401  (registers sim://)
from at import protocol
from at.sim.at_host import AtHost, AtHostFrontEnd, RxState
from at.sim.factory import factory_state
from at.sim.modem import Modem, ModemOptions
from at.sim.store import MemoryStore


def front(termination="cr", **kwargs) -> AtHostFrontEnd:
    m = Modem("unit", MemoryStore(lambda: factory_state("unit", "nrf91x1")), ModemOptions())
    fe = AtHostFrontEnd(m.execute, AtHost(termination=termination), **kwargs)
    fe.modem = m
    return fe


@pytest.mark.parametrize("mode,ending,other", [("cr", b"\r", b"\n"), ("lf", b"\n", b"\r"),
                                               ("crlf", b"\r\n", b"\r"), ("nul", b"\x00", b"\r")])
def test_only_the_configured_terminator_ends_a_command(mode, ending, other):
    fe = front(mode)
    assert fe.receive(b"AT" + other) == b""  # any other line end is data
    assert fe.receive(b"AT") == b""
    assert fe.receive(ending) == b"ERROR\r\n"  # "AT<other>AT" is not a command
    assert fe.receive(b"AT+CGMI" + ending) == b"Nordic Semiconductor ASA\r\nOK\r\n"
    # \r\n works in every mode but NUL
    if mode != "nul":
        assert fe.receive(b"AT\r\n") == b"OK\r\n"


def test_crlf_left_lf_is_the_first_byte_of_the_next_command():
    fe = front("cr")
    assert fe.receive(b"AT\r\n") == b"OK\r\n"
    assert fe.host.state.buffer == bytearray(b"\n")  # the LF stays; leading whitespace is harmless
    assert fe.receive(b"AT\r") == b"OK\r\n"


def test_quotes_flip_without_escape_and_hide_terminators():
    fe = front()
    # the CR inside quotes is data; the backslash escapes nothing, so its quote closes the string
    assert fe.receive(b'AT%CMNG=0,5,4,"a\rb\\"\r') == b"OK\r\n"
    assert fe.modem.store.credentials()[(5, 4)] == "a\rb\\"
    assert fe.receive(b'AT%CMNG=0,5,4,"x\r') == b""
    assert fe.host.state.inside_quotes


def test_backspace_and_del_never_undo_a_quote_flip():
    fe = front()
    assert fe.receive(b'AT"\x7f\x7f\x7f\r') == b""  # buffer emptied, but the quote is still open
    assert fe.host.state.inside_quotes and fe.host.state.buffer == bytearray(b"\r")  # so CR was data
    assert fe.receive(b'"\r') == b"ERROR\r\n"  # the lone quote closes it: command `"`


def test_overflow_drops_bytes_before_the_quote_flip():
    fe = front()
    body = b'AT%CMNG=0,5,4,"' + b"a" * 4100
    assert fe.receive(body + b'"\r') == b""  # closing quote dropped: CR swallowed as data
    assert len(fe.host.state.buffer) == 4095 and fe.host.state.inside_quotes
    assert fe.receive(b"AT\r\n") == b""  # stuck


def test_commands_without_a_printable_character_get_no_answer():
    fe = front()
    for data in (b"\r", b" \t\r", b"\n\n\r", b"\x7f\r"):
        assert fe.receive(data) == b""
    assert fe.modem.commands == []


def test_nul_outside_quotes_is_dropped_inside_quotes_is_data():
    fe = front()
    assert fe.receive(b"A\x00T\r") == b"OK\r\n"
    assert fe.receive(b'AT%CMNG=0,5,4,"a\x00b"\r') == b"OK\r\n"


def test_bytes_after_a_terminator_are_lost_but_one():
    fe = front()
    assert fe.receive(b"AT\rAT+CGMI\r") == b"OK\r\n"
    assert fe.dropped == len(b"T+CGMI\r")
    assert fe.host.state.buffer == bytearray(b"A")


def test_long_answers_are_cut_without_a_final_line():
    fe = front()
    pem = "-----BEGIN CERTIFICATE-----\n" + "A" * 4000 + "\n-----END CERTIFICATE-----\n"
    fe.modem.store.put(8, 0, pem)
    out = fe.receive(b"AT%CMNG=2,8,0\r")
    assert len(out) == 4095 and not out.endswith(b"OK\r\n")


def test_failed_modem_call_prints_the_buffer_and_no_final_line():
    fe = front(fail="AT+CGMR")
    assert fe.receive(b"AT+CGMR\r") == b"AT+CGMR"
    assert fe.receive(b"AT\r") == b"OK\r\n"


def test_dirty_boot_noise_has_no_line_end_and_precedes_the_first_answer():
    fe = front(boot_noise=b"*** Boo")
    assert fe.receive(b"AT\r") == b"*** BooOK\r\n"
    assert fe.receive(b"AT\r") == b"OK\r\n"


def test_state_is_saved_when_it_changes():
    saved = []
    fe = front(save=lambda rx: saved.append((bytes(rx.buffer), rx.inside_quotes)))
    fe.receive(b'AT%CMNG=0,1,3,"00')
    assert saved[-1] == (b'AT%CMNG=0,1,3,"00', True)
    restored = AtHost(RxState(bytearray(b'AT%CMNG=0,1,3,"00'), True))
    assert restored.feed(b"AT\r\n") == (None, b"")  # the next host's AT is stored as data


# ---------------------------------------------------------------- through sim:// and a pty

def test_partial_command_survives_port_close_in_process(mem_url, name):
    raw = serial.serial_for_url(mem_url, timeout=0.2)
    raw.write(b'AT%CMNG=0,77,3,"0011')
    raw.close()
    raw = serial.serial_for_url(mem_url, timeout=0.3)
    raw.write(b"AT\r\n")
    assert raw.read(10) == b""  # swallowed inside the open quote
    raw.close()


def test_partial_command_survives_across_processes_in_the_state_file(name):
    import subprocess
    import sys
    code = (f"import at, serial; s = serial.serial_for_url('sim://{name}', timeout=0.2); "
            "s.write(b'AT%CMNG=0,77,3,\"0011'); s.close()")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)
    raw = serial.serial_for_url(f"sim://{name}", timeout=0.3)
    raw.write(b"AT\r\n")
    assert raw.read(10) == b""
    raw.write(b"\x7f" * 4096 + b'"\r\n')
    assert raw.read(7) == b"ERROR\r\n"
    raw.close()


def _pty_exchange(path: str, data: bytes, wait: float = 0.5) -> bytes:
    fd = os.open(path, os.O_RDWR | os.O_NOCTTY)
    try:
        os.write(fd, data)
        out = b""
        end = time.monotonic() + wait
        while time.monotonic() < end:
            ready, _, _ = select.select([fd], [], [], max(0.0, end - time.monotonic()))
            if ready:
                out += os.read(fd, 4096)
        return out
    finally:
        os.close(fd)


def test_pty_keeps_the_partial_command_across_a_close(pty_sim):
    sim = pty_sim()
    assert _pty_exchange(sim.path, b'AT%CMNG=0,77,3,"0011', 0.2) == b""
    assert _pty_exchange(sim.path, b"AT\r\n") == b""
    assert _pty_exchange(sim.path, b"\x7f" * 4096 + b'"\r\n') == b"ERROR\r\n"
    assert _pty_exchange(sim.path, b"AT\r\n") == b"OK\r\n"


def test_input_while_a_command_runs_is_lost(name):
    raw = serial.serial_for_url(f"sim://{name}?state=memory&latency=0.3", timeout=1)
    raw.write(b"AT\r\n")
    raw.write(b"AT+CGMI\r\n")  # pipelined: the receiver is off
    assert raw.read_until(b"OK\r\n") == b"OK\r\n"
    assert raw.read(50) == b""
    raw.close()


@pytest.mark.parametrize("term,ending", [("lf", b"\n"), ("crlf", b"\r\n"), ("nul", b"\x00")])
def test_termination_option(name, term, ending):
    raw = serial.serial_for_url(f"sim://{name}?state=memory&term={term}", timeout=0.3)
    raw.write(b"AT" + ending)
    assert raw.read(4) == b"OK\r\n"
    raw.close()


def test_echo_option_echoes_the_command(name):
    raw = serial.serial_for_url(f"sim://{name}?state=memory&echo=1", timeout=0.3)
    raw.write(b"AT+CGMI\r\n")
    assert protocol.split_lines(raw.read(200)) == ["AT+CGMI", "Nordic Semiconductor ASA", "OK"]
    raw.close()


def test_bad_termination_option_is_refused(name):
    with pytest.raises(serial.SerialException, match="term"):
        serial.serial_for_url(f"sim://{name}?term=tab")
