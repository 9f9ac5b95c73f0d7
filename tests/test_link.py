"""The at_host link against the strict simulator: framing, recovery, resync, Ctrl-C, budgets, redaction."""
import os
import time
import urllib.parse

import pytest

import at
from at import protocol
from at.errors import AnswerCutError, Interrupted
from at.link import open_link
from at.sim import device

PREFIX = 'AT%CMNG=0,5,4,"'


def rx(name):
    """at_host's receive state of a simulated device (what a killed host left behind)."""
    return device.devices[name].store.rx_state()


def leave_partial(url: str, data: bytes = b'AT%CMNG=0,77,3,"0011') -> None:
    import serial
    raw = serial.serial_for_url(url, timeout=0.1)
    raw.write(data)
    raw.close()


@pytest.mark.parametrize("term", ["cr", "lf", "crlf"])
def test_crlf_terminator_works_in_every_termination_mode(name, term):
    with at.SoC(f"sim://{name}?state=memory&term={term}") as soc:
        assert soc.get_model() == "nRF9151-LACA"
        assert soc.write_credential(5, 4, "id").sha256 == protocol.sha256_hex("id")


def test_4094_byte_command_is_written_and_verified_4095_is_refused(mem_url, name):
    with at.SoC(mem_url) as soc:
        content = "a" * (4094 - len(PREFIX) - 1)
        assert len(PREFIX + content + '"') == 4094
        assert soc.write_credential(5, 4, content).sha256 == protocol.sha256_hex(content)
        seen = len(device.devices[name].commands)
        with pytest.raises(at.ValidationError, match="CONFIG_AT_HOST_CMD_MAX_LEN"):
            soc.write_credential(5, 4, content + "a")
        assert device.devices[name].commands[seen:] == []


@pytest.mark.parametrize("text", ['AT+CGMR"', 'AT%CMNG=0,1,4,"a"b"', "AT\x08+CGMR", "AT+CGMR\x7f", "AT\x00+CGMR",
                                  "AT\r\nAT+CFUN=1"])
def test_text_at_host_would_misframe_is_refused_before_sending(mem_url, name, text):
    with at.SoC(mem_url) as soc:
        seen = len(device.devices[name].commands)
        with pytest.raises(at.ValidationError):
            soc.response(text)
        assert device.devices[name].commands[seen:] == []
        assert rx(name) == (b"\n", False) or rx(name) == (b"", False)
        assert soc.get_functional_mode() == 0


def test_open_costs_nothing_when_at_answers(mem_url):
    sent = []
    started = time.monotonic()
    with at.SoC(mem_url, trace=lambda d, t: sent.append((d, t))):
        pass
    assert time.monotonic() - started < 0.5
    assert sent[0] == (">", "AT") and not any("DEL" in t for _, t in sent)


@pytest.mark.parametrize("partial", [b'AT%CMNG=0,77,3,"0011', b"AT%CMNG=0,77,3,0011", b'AT%CMNG=0,77,3,"00"11"ab',
                                     b'"' + b"x" * 5000])
def test_open_recovers_a_wedged_buffer_without_committing_it(mem_url, name, partial):
    leave_partial(mem_url, partial)
    started = time.monotonic()
    with at.SoC(mem_url, timeout=30) as soc:  # the first AT waits about 1 s, not the timeout
        assert soc.list_credentials(77) == []
        assert soc.get_model() == "nRF9151-LACA"
    assert time.monotonic() - started < 5
    assert not any(c.startswith("AT%CMNG=0,77") and "OK" for c in device.devices[name].commands[-8:]
                   if c.count('"') == 2 and "0011" in c and c.endswith('"'))
    assert (77, 3) not in device.devices[name].store.credentials()


def test_recovery_over_a_pty(pty_sim, name):
    sim = pty_sim()
    fd = os.open(sim.path, os.O_RDWR | os.O_NOCTTY)
    os.write(fd, b'AT%CMNG=0,77,3,"0011')
    os.close(fd)
    started = time.monotonic()
    with at.SoC(sim.path, timeout=5) as soc:
        assert soc.list_credentials(77) == []
    assert time.monotonic() - started < 5


def test_dirty_boot_is_retried_quickly(name):
    started = time.monotonic()
    with at.SoC(f"sim://{name}?state=memory&dirty_boot=1&banner=1", timeout=10) as soc:
        assert soc.get_model() == "nRF9151-LACA"
        assert protocol.is_valid_imei(soc.get_imei())
    assert time.monotonic() - started < 3


def test_a_dead_port_fails_within_the_timeout_plus_5_s():
    import pty
    master, slave = pty.openpty()  # nobody ever answers on this one
    try:
        started = time.monotonic()
        with pytest.raises(at.ATTimeoutError):
            at.SoC(os.ttyname(slave), timeout=1)
        assert time.monotonic() - started < 1 + 5
    finally:
        os.close(master)
        os.close(slave)


def test_late_answer_is_never_taken_for_the_next_command(name):
    with at.SoC(f"sim://{name}?state=memory", timeout=5) as soc:
        sim = soc._link.serial.raw._sim_link
        soc.write_credential(77, 4, "kept")
        sim.options.latency = 0.8
        soc._link.timeout = 0.2
        with pytest.raises(at.ATTimeoutError):
            soc.write_credential(78, 4, "late")  # its OK comes after the timeout
        sim.options.latency = 0.0
        soc._link.timeout = 5
        assert [c.sec_tag for c in soc.list_credentials(77)] == [77]
        assert [c.sec_tag for c in soc.list_credentials(78)] == [78]
        assert soc.get_model() == "nRF9151-LACA"


def test_cut_answer_is_an_error_naming_the_buffer_and_the_link_recovers(mem_url, name):
    pem = "-----BEGIN CERTIFICATE-----\n" + "A" * 4000 + "\n-----END CERTIFICATE-----\n"
    with at.SoC(mem_url, timeout=2) as soc:
        device._memory[name].put(8, 0, pem)
        started = time.monotonic()
        with pytest.raises(AnswerCutError, match="4096-byte buffer"):
            soc.read_credential(8, 0)
        assert time.monotonic() - started < 2 + soc._link.wire_seconds(8192)
        assert soc.get_functional_mode() == 0


def test_failed_modem_call_without_final_line(name):
    with at.SoC(f"sim://{name}?state=memory&fail=AT%2BCGMR", timeout=0.5) as soc:
        with pytest.raises(AnswerCutError):
            soc.get_firmware_version()
        assert soc.get_model() == "nRF9151-LACA"


class _InterruptAfter:
    """Ctrl-C arriving while the host writes: raises after `chunks` writes of a command."""

    def __init__(self, raw, chunks: int) -> None:
        self.raw, self.chunks, self.real = raw, chunks, raw.write

    def __call__(self, data):
        if len(data) == 64 or self.chunks <= 0:
            self.chunks -= 1
            if self.chunks < 0:
                self.raw.write = self.real
                raise KeyboardInterrupt
        return self.real(data)


def test_ctrl_c_mid_write_cleans_up_the_buffer_and_restores_cfun(mem_url, name):
    ca = at.sim.factory._pem_certificates("x")[0]
    with at.SoC(mem_url) as soc:
        soc.set_functional_mode(1)
        raw = soc._link.serial.raw
        with pytest.raises(KeyboardInterrupt) as caught:
            with soc.offline():
                raw.write = _InterruptAfter(raw, 5)
                soc.write_credential(77, 0, ca)
        assert not isinstance(caught.value, Interrupted)
        assert rx(name) in ((b"", False), (b"\n", False))
        assert soc.get_functional_mode() == 1
        assert soc.list_credentials(77) == []


def test_ctrl_c_while_waiting_drains_the_answer(name):
    with at.SoC(f"sim://{name}?state=memory&latency=0.3") as soc:
        raw = soc._link.serial.raw
        real_read = raw.read
        calls = [0]

        def read(size=1):
            calls[0] += 1
            if calls[0] == 1:
                raise KeyboardInterrupt
            return real_read(size)

        raw.read = read
        with pytest.raises(KeyboardInterrupt):
            soc.write_credential(77, 4, "x")
        raw.read = real_read
        assert soc.get_model() == "nRF9151-LACA"
        assert [c.sec_tag for c in soc.list_credentials(77)] == [77]


def test_cfun_that_cannot_be_restored_is_reported(mem_url, name):
    with at.SoC(mem_url, timeout=0.3) as soc:
        soc.set_functional_mode(1)
        raw = soc._link.serial.raw
        with pytest.raises(Interrupted) as caught:
            with soc.offline():
                raw.write = _InterruptAfter(raw, 0)
                raw._sim_link.options.disconnect_after = raw._sim_link._sent  # the kit goes away too
                soc.write_credential(77, 4, "x")
        assert "CFUN=1" in caught.value.detail and "\n" not in caught.value.detail


def test_trace_redacts_psk_in_both_directions_with_an_echoing_kit(name):
    psk = "a1b2c3d4e5f60718293a4b5c6d7e8f90"
    trace = []
    with at.SoC(f"sim://{name}?state=memory&echo=1", trace=lambda d, t: trace.append((d, t))) as soc:
        soc.write_credential(9, 3, psk)
    assert any(d == "<" and "AT%CMNG=0,9,3" in t for d, t in trace)  # the echo came back
    assert all(psk not in t and psk[:8] not in t for _, t in trace)


def test_imei_and_model_ignore_banner_lines(name):
    with at.SoC(f"sim://{name}?state=memory") as soc:
        modem = device.devices[name]
        real = modem.execute

        def noisy(text):
            lines = real(text)
            return ["*** Booting nRF Connect SDK v2.9.0 ***", "Ready", '+CGSN: "123"'] + lines \
                if text.strip().upper() in ("AT+CGSN=1", "AT+CGMM", "AT+CGMR") else lines

        modem.execute = noisy
        soc._link.serial.raw._sim_link.front_end._execute = noisy
        assert soc.get_imei() == modem.imei
        assert soc.get_model() == "nRF9151-LACA"
        assert soc.get_firmware_version() == "mfw_nrf91x1_2.0.2"


def test_open_link_is_the_interface_soc_uses(mem_url):
    link = open_link(mem_url, timeout=2)
    try:
        assert link.is_open and link.port == mem_url and link.timeout == 2
        response = link.command("AT+CGMI")
        assert response.ok and response.lines == ["Nordic Semiconductor ASA"]
        assert link.poll_urcs() == [] and link.wire_seconds(11520) == pytest.approx(1.0)
    finally:
        link.close()
    assert not link.is_open


# ---------------------------------------------------------------- the same rules over sim:// and a real pty

@pytest.fixture(params=["sim", "pty"])
def kit(request, name, pty_sim):
    """Open a simulated kit with options, over sim:// (file state) or an `nrf91-sim` pty."""
    def start(**options):
        if request.param == "sim":
            query = urllib.parse.urlencode(options)
            return f"sim://{name}" + (f"?{query}" if query else "")
        args = [item for k, v in options.items() for item in (f"--{k.replace('_', '-')}", str(v))]
        return pty_sim(*args).path
    return start


def test_limit_and_refusals_on_both(kit):
    with at.SoC(kit(), timeout=5) as soc:
        content = "b" * (4094 - len(PREFIX) - 1)
        assert soc.write_credential(6, 4, content).sha256 == protocol.sha256_hex(content)
        with pytest.raises(at.ValidationError, match="CONFIG_AT_HOST_CMD_MAX_LEN"):
            soc.write_credential(6, 4, content + "b")
        with pytest.raises(at.ValidationError, match="quote"):
            soc.response('AT+CGMR"')
        with pytest.raises(AnswerCutError):  # reading it back would need more than at_host's buffer
            soc.read_credential(6, 4)
        assert [c.sha256 for c in soc.list_credentials(6)] == [protocol.sha256_hex(content)]


def test_cut_answer_and_failed_call_on_both(kit, name):
    with at.SoC(kit(fail="AT+CGMR"), timeout=1) as soc:
        soc.write_credential(8, 4, "c" * 4060)
        with pytest.raises(AnswerCutError, match="4096-byte buffer"):
            soc.read_credential(8, 4)
        with pytest.raises(AnswerCutError):
            soc.get_firmware_version()
        assert soc.get_model() == "nRF9151-LACA"


def test_dirty_boot_and_echo_on_both(kit):
    psk = "00112233445566778899aabbccddeeff"
    trace = []
    started = time.monotonic()
    with at.SoC(kit(dirty_boot=1, echo=1), timeout=5, trace=lambda d, t: trace.append(t)) as soc:
        assert time.monotonic() - started < 3
        soc.write_credential(9, 3, psk)
        assert soc.get_model() == "nRF9151-LACA"
    assert trace and all(psk[:8] not in t for t in trace)


def test_timeout_then_resync_on_both(kit):
    with at.SoC(kit(latency=0.4), timeout=5) as soc:
        soc._link.timeout = 0.01
        soc._link.baudrate = 10_000_000  # no wire time in the budget: the answer comes after it
        with pytest.raises(at.ATTimeoutError):
            soc.write_credential(10, 4, "late")
        soc._link.timeout = 5
        assert [c.sec_tag for c in soc.list_credentials(10)] == [10]
        assert soc.get_model() == "nRF9151-LACA"
