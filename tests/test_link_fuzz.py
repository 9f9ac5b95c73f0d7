"""Fuzzing the response side: whatever bytes a device answers, only `ATError` leaves the library.

The device is replaced at the serial boundary only: a port object that answers each
command the link writes with the next scripted (random or mutated) bytes.
"""
import time

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import at
from at.link.at_host import AtHostLink
from at.soc import SoC

REAL_ANSWERS = [
    b"OK\r\n", b"ERROR\r\n", b"+CME ERROR: 513\r\n", b"+CMEE: 1\r\nOK\r\n", b"+CFUN: 4\r\nOK\r\n",
    b'+CGSN: "352656100367872"\r\nOK\r\n', b"nRF9151-LACA\r\nOK\r\n", b"mfw_nrf91x1_2.0.2\r\nOK\r\n",
    b'%CMNG: 16842753,0,"' + b"A" * 64 + b'"\r\nOK\r\n',
    b'%CMNG: 7,0,"' + b"B" * 64 + b'","-----BEGIN CERTIFICATE-----\nOK\n-----END CERTIFICATE-----\n"\r\nOK\r\n',
    b"+CME ERROR: " + b"9" * 5000 + b"\r\n", b'+CEREG: 2,"B4DC","000AE520",9\r\n',
]


class ScriptedPort:
    """A serial port whose device answers each command with the next scripted bytes."""

    def __init__(self, answers: list) -> None:
        self.answers = list(answers)
        self.pending = b""
        self.is_open = True

    def write(self, data: bytes, progress=None) -> None:
        if progress is not None:
            progress[0] += len(data)
        if data.endswith(b"\n") and self.answers:
            self.pending += self.answers.pop(0)

    def read_some(self) -> bytes:
        if not self.pending:
            time.sleep(0.001)
        out, self.pending = self.pending[:97], self.pending[97:]
        return out

    def read_waiting(self) -> bytes:
        return b""

    def close(self) -> None:
        self.is_open = False


def soc_over(answers: list) -> SoC:
    soc = SoC.__new__(SoC)
    soc.port = "scripted"
    soc._link = AtHostLink("scripted", timeout=0.02, baudrate=10_000_000, serial_port=ScriptedPort(answers))
    soc._cmee_before = 1
    return soc


def mutate(data: bytes, edits: list) -> bytes:
    out = bytearray(data)
    for position, value, kind in edits:
        if not out:
            out.append(value)
            continue
        index = position % len(out)
        if kind == 0:
            out[index] = value
        elif kind == 1:
            out.insert(index, value)
        else:
            del out[index]
    return bytes(out)


edits = st.lists(st.tuples(st.integers(0, 10_000), st.integers(0, 255), st.integers(0, 2)), max_size=6)
answer = st.one_of(st.binary(max_size=300),
                   st.builds(mutate, st.sampled_from(REAL_ANSWERS), edits),
                   st.lists(st.sampled_from(REAL_ANSWERS), max_size=3).map(b"".join))

CALLS = [
    lambda s: s.get_imei(), lambda s: s.get_model(), lambda s: s.get_firmware_version(),
    lambda s: s.get_functional_mode(), lambda s: s.list_credentials(), lambda s: s.list_credentials(16842753, 0),
    lambda s: s.read_credential(7, 0), lambda s: s.write_credential(5, 4, "id"), lambda s: s.response("AT+CGMI"),
    lambda s: s.delete_credential(5, 4), lambda s: s.urcs,
]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(answers=st.lists(answer, min_size=1, max_size=8), call=st.sampled_from(range(len(CALLS))))
def test_any_answer_raises_nothing_but_at_errors(answers, call):
    soc = soc_over(answers)
    try:
        CALLS[call](soc)
    except at.ATError:
        pass
    finally:
        soc._link.close()


def test_error_finals_with_odd_codes_end_the_answer_and_explain():
    from at import protocol
    assert protocol.final_result("+CME ERROR: " + "9" * 5000) == (False, None)
    assert protocol.final_result("+CME ERROR: not found") == (False, None)
    soc = soc_over([b"+CME ERROR: " + b"7" * 5000 + b"\r\n"])
    try:
        try:
            soc.get_functional_mode()
        except at.CommandError as exc:
            assert exc.code is None and len(str(exc)) < 200
        else:
            raise AssertionError("a +CME ERROR must raise")
    finally:
        soc._link.close()
