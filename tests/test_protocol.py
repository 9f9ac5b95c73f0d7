"""at.protocol: pure functions, so tested exhaustively, including with hypothesis."""
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from at import protocol
from at.errors import ValidationError
from at.protocol import LineKind, LineSplitter, classify, parse_params


def test_build_quotes_strings_and_drops_trailing_none():
    assert protocol.build("%CMNG", 1) == "AT%CMNG=1"
    assert protocol.build("%CMNG", 1, 42, None) == "AT%CMNG=1,42"
    assert protocol.build("%CMNG", 0, 42, 4, "id", None) == 'AT%CMNG=0,42,4,"id"'
    assert protocol.build("+CFUN") == "AT+CFUN"
    with pytest.raises(ValidationError, match="double quote"):
        protocol.build("%CMNG", 0, 1, 4, 'x",0,"y')


def test_check_length_names_the_kconfig_option():
    protocol.check_length("A" * 4094)
    with pytest.raises(ValidationError, match="CONFIG_AT_HOST_CMD_MAX_LEN"):
        protocol.check_length("A" * 4095)


def test_splitter_keeps_newlines_inside_quotes_of_a_response_line():
    pem = "-----BEGIN CERTIFICATE-----\nOK\n+CME ERROR: 513\nAT%CMNG=3\n%CMNG: 1,0\nERROR\n-----END CERTIFICATE-----\n"
    data = f'%CMNG: 7,0,"{"A" * 64}","{pem}"\r\nOK\r\n'.encode()
    lines = LineSplitter().feed(data)
    assert lines == [f'%CMNG: 7,0,"{"A" * 64}","{pem}"', "OK"]
    assert parse_params(lines[0][len("%CMNG:"):])[3] == pem


def test_splitter_ignores_quotes_in_bare_lines_so_noise_cannot_swallow_the_answer():
    lines = LineSplitter().feed(b'garbage " here\r\nOK\r\n')
    assert lines == ['garbage " here', "OK"]


def test_splitter_gives_up_a_quote_longer_than_the_modem_buffer():
    splitter = LineSplitter()
    splitter.feed(b'+X: "' + b"a" * (2 * 4096 + 10))
    assert splitter.feed(b"\r\nOK\r\n")[-1] == "OK"


def test_splitter_decodes_invalid_utf8_with_replacement():
    assert LineSplitter().feed(b"\xff\xfeabc\r\n") == ["\ufffd\ufffdabc"]


@given(st.binary(max_size=300), st.lists(st.integers(1, 50), max_size=20))
def test_splitter_output_does_not_depend_on_chunking(data, cuts):
    whole = LineSplitter().feed(data)
    splitter, lines, pos = LineSplitter(), [], 0
    for cut in cuts:
        lines += splitter.feed(data[pos:pos + cut])
        pos += cut
    lines += splitter.feed(data[pos:])
    assert lines == whole


@pytest.mark.parametrize("line,expected", [
    ("OK", (True, None)), ("ERROR", (False, None)), ("+CME ERROR: 513", (False, 513)),
    ("+CMS ERROR: 300", (False, 300)), ("+CME ERROR:518", (False, 518)), ("OKAY", None), ("+CFUN: 4", None)])
def test_final_result(line, expected):
    assert protocol.final_result(line) == expected


def test_classify_tells_urcs_from_responses_by_pending_command():
    assert classify('+CEREG: 2,"B4DC","000AE520",9', "AT+CFUN?") is LineKind.URC
    assert classify("+CEREG: 5", "AT+CEREG?") is LineKind.INFO
    assert classify("%XTIME: 1", "AT%CMNG=1") is LineKind.URC
    assert classify('%CMNG: 1,0,"AB"', "AT%CMNG=1") is LineKind.INFO
    assert classify("352656100367872", "AT+CGSN") is LineKind.INFO
    assert classify("AT+CGSN", "AT+CGSN") is LineKind.ECHO
    assert classify("+CFUN: 4", "AT+CGSN=1;+CFUN?") is LineKind.INFO
    assert protocol.is_urc("+CFUN: 4", None)


def test_parse_params_keeps_commas_and_colons_in_quotes():
    assert parse_params(' 16842753,0,"AB:CD","x,y:z"') == [16842753, 0, "AB:CD", "x,y:z"]
    assert parse_params("1,,3") == [1, None, 3]
    assert parse_params("") == []
    with pytest.raises(ValueError):
        parse_params('1,"open')


@given(st.lists(st.one_of(st.integers(0, 2**32), st.text(alphabet=st.characters(
    min_codepoint=32, max_codepoint=126, blacklist_characters='"'), max_size=40)), min_size=1, max_size=6))
def test_parse_params_inverts_build(values):
    command = protocol.build("%X", *values)
    assert parse_params(command[len("AT%X="):]) == values


def test_redact_hides_keys_psks_and_passwords_only():
    assert protocol.redact('AT%CMNG=0,5,3,"a1b2c3d4"') == 'AT%CMNG=0,5,3,"<8 bytes redacted>"'
    assert "SECRET" not in protocol.redact('AT%CMNG=0,5,2,"-----BEGIN PRIVATE KEY-----\nSECRET\n","pw"')
    assert "pw" not in protocol.redact('AT%CMNG=0,5,2,"key","pw"').split(",", 4)[4]
    assert protocol.redact('AT%CMNG=0,5,4,"nrf-123"') == 'AT%CMNG=0,5,4,"nrf-123"'
    assert protocol.redact("AT+CFUN=4") == "AT+CFUN=4"


def test_imei_luhn():
    assert protocol.is_valid_imei("352656100367872")
    assert not protocol.is_valid_imei("352656100367873")
    assert not protocol.is_valid_imei("35265610036787")


def test_sha256_matches_modem_format():
    assert protocol.sha256_hex("abc") == "BA7816BF8F01CFEA414140DE5DAE2223B00361A396177A9CB410FF61F20015AD"


@settings(max_examples=200)
@given(st.binary(max_size=200))
def test_redact_and_classify_never_crash_on_noise(data):
    for line in LineSplitter().feed(data + b"\r\n"):
        classify(line, "AT%CMNG=1")
        protocol.redact(line)


def test_command_building_moved_to_at_commands_stays_reachable_from_protocol():
    from at import commands

    for name in ("build", "quote", "check_command", "check_length", "encode_command", "redact",
                 "has_unquoted_break", "AT_HOST_BUFFER", "MAX_COMMAND_LEN", "TERMINATOR", "SECRET_CMNG_TYPES"):
        assert getattr(protocol, name) is getattr(commands, name)


def _byte_at_a_time(chunks: list[bytes]) -> tuple[list[str], bool, bytes]:
    """The splitter's rules, one byte at a time: the reference its whole-run fast path must agree with."""
    lines, buf, in_quote, after_cr = [], bytearray(), False, False
    for byte in b"".join(chunks):
        if byte in (0x0D, 0x0A) and not in_quote:
            after_cr = byte == 0x0D
            if buf:
                lines.append(buf.decode("utf-8", errors="replace"))
                buf.clear()
            continue
        after_cr = False
        buf.append(byte)
        head = bytes(buf[:2])
        if byte == 0x22 and (head[:1] in (b"+", b"%") or head.upper() == b"AT"):
            in_quote = not in_quote
    return lines, after_cr, bytes(buf)


def test_splitter_reads_runs_as_it_reads_single_bytes():
    import random

    rng = random.Random(5)
    alphabet = [b"\r", b"\n", b"\r\n", b'"', b"+", b"%", b"A", b"T", b"O", b"K", b"x", b" ", b"\xff"]
    for _ in range(5000):
        data = b"".join(rng.choice(alphabet) for _ in range(rng.randrange(60)))
        cuts = sorted(rng.sample(range(len(data) + 1), min(len(data) + 1, rng.randrange(5))))
        chunks = [data[a:b] for a, b in zip([0, *cuts], [*cuts, len(data)], strict=True)]
        splitter, lines = LineSplitter(), []
        for chunk in chunks:
            lines += splitter.feed(chunk)
        assert (lines, splitter.after_cr, splitter.pending) == _byte_at_a_time(chunks), chunks
