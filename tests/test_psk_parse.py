"""The psk_file as Mosquitto reads it (facts checked against the real broker in test_psk_broker.py), and edits
that change one identity's entry and nothing else."""
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import at
from at import pskfile
from at.files import FileError
from at.pskfile import PskFile, parse, view

K = "00112233445566778899aabbccddeeff"
K2 = "ffeeddccbbaa99887766554433221100"


@pytest.mark.parametrize("line, entry", [
    (f"id:{K}\n", ("id", K)),
    (f"#id:{K}\n", None),                        # '#' in the first column: a comment
    (f" #id:{K}\n", ("#id", K)),                 # not in the first column: identity '#id'
    (f"   id:{K}\n", ("id", K)),                 # leading whitespace trimmed
    (f"\fid\v: {K} \t\n", ("id", K)),            # any C isspace() on both sides of both fields
    (f"id:{K}\r\n", ("id", K)),                  # CR LF
    (f"::id:{K}\n", ("id", K)),                  # strtok: empty fields vanish
    (f"id::{K}\n", ("id", K)),
    (f"id:{K}:ffff\n", ("id", K)),               # a third field is ignored
    ("id:\n", ("id", "")),                       # LF makes a (empty) key field...
    ("id:", None),                               # ...at the end of the file there is none: skipped
    (":id\n", None),                             # one field only
    ("no colon here\n", None),
    ("\n", None),
    ("  \t \n", None),
    (f"a b:{K}\n", ("a b", K)),                  # inner spaces stay (cmng never writes such identities)
])
def test_one_line_as_mosquitto_reads_it(line, entry):
    assert view(parse(line.encode())) == (dict([entry]) if entry else {})


def test_duplicates_the_first_wins_as_in_the_broker():
    assert view(parse(f"dup:{K}\ndup:{K2}\n".encode())) == {"dup": K}


def test_a_field_over_65535_bytes_skips_its_line():
    assert view(parse(b"x" * 65536 + f":{K}\nok:{K}\n".encode())) == {"ok": K}
    assert view(parse(b"x" * 65535 + f":{K}\n".encode())) == {"x" * 65535: K}


@pytest.mark.parametrize("length, seen", [(254, True), (255, False), (256, True), (1254, True), (1255, False),
                                          (2255, False), (2256, True)])
def test_the_readers_buffer_drops_a_last_line_that_fills_it_exactly(length, seen):
    """Mosquitto's reader: 256-byte buffer, +1000 per full read without LF; a last line without LF that ends
    exactly where a read ends is never handed on."""
    line = "i" * (length - 1 - len(K)) + ":" + K
    assert (view(parse(line.encode())) != {}) is seen
    assert view(parse((line + "\n").encode())) != {}  # with its LF it is always read


def test_the_buffer_keeps_its_size_from_one_line_to_the_next():
    long_first = "a" * 400 + f":{K}\n"  # grows the buffer to 1256 bytes
    last = "b" * (255 - 1 - len(K)) + ":" + K  # 255 bytes: fits a read now
    assert set(view(parse((long_first + last).encode()))) == {"a" * 400, "b" * (255 - 1 - len(K))}


@pytest.mark.parametrize("data, message", [
    (b"a:00\n\xff\xfe:00\n", "line 2 is not UTF-8"),
    (b"a:00\nb\x00:00\n", "line 2 holds a NUL byte"),
    (b"# keys\nbad:xyz\n", "line 2: the key of identity 'bad' is not hex"),
    (b"inline:00 # comment\n", "not hex, so Mosquitto refuses the whole file"),
])
def test_what_neither_cmng_nor_the_broker_can_use_is_refused(data, message):
    with pytest.raises(FileError, match=message):
        parse(data)


@pytest.mark.parametrize("identity", ["#nrf-1", "a:b", "a b", "a\tb", "a\x7fb", "é", 'a"b', "", "x" * 129])
def test_identities_mosquitto_cannot_hold_are_refused(identity):
    with pytest.raises(at.ValidationError, match="cannot go in a Mosquitto psk_file"):
        pskfile.check_identity(identity)


@pytest.mark.parametrize("prefix", ["#", "#nrf-", "a:", "a ", "\x01", "x" * 114])
def test_prefixes_that_would_make_such_identities_are_refused(prefix):
    with pytest.raises(at.ValidationError, match="identity prefix"):
        pskfile.check_identity_prefix(prefix)
    assert pskfile.check_identity_prefix("x" * 113) and pskfile.check_identity_prefix("") == ""


def test_pending_then_commit_changes_only_that_identity(tmp_path):
    path = tmp_path / "psk_file.txt"
    original = f"# keys\r\n  other:{K}\r\n#nrf-1:{K}\r\nnrf-1 : 00\r\n\r\nnrf-1:11\r\nlast:{K2}".encode()
    path.write_bytes(original)
    book = PskFile(path)
    book.begin("nrf-1", K2)
    assert book.entries() == {"other": K, "nrf-1": "00", "last": K2}  # the broker still sees the old key
    assert book.pending() == {"nrf-1": K2}
    assert path.read_bytes() == original + b"\r\n#cmng-pending nrf-1:" + K2.encode() + b"\r\n"
    book.commit("nrf-1", K2)
    assert path.read_bytes() == (f"# keys\r\n  other:{K}\r\n#nrf-1:{K}\r\nnrf-1:{K2}\r\n\r\nlast:{K2}\r\n").encode()
    assert book.entries() == {"other": K, "nrf-1": K2, "last": K2} and book.pending() == {}


def test_commit_of_a_new_identity_puts_it_where_its_pending_line_was(tmp_path):
    path = tmp_path / "psk_file.txt"
    path.write_bytes(b"a:00\n")
    book = PskFile(path)
    book.begin("b", "11")
    book.begin("c", "22")
    book.commit("b", "11")
    assert path.read_bytes() == b"a:00\nb:11\n#cmng-pending c:22\n"
    book.abort("c", "99")  # another key: not ours to drop
    assert book.pending() == {"c": "22"}
    book.abort("c", "22")
    assert path.read_bytes() == b"a:00\nb:11\n"


def test_an_edit_that_would_wake_a_dropped_last_line_is_refused(tmp_path):
    path = tmp_path / "psk_file.txt"
    dropped = ("d" * (255 - 1 - len(K)) + ":" + K).encode()  # no LF, fills a read: the broker skips it
    path.write_bytes(b"a:00\n" + dropped)
    with pytest.raises(FileError, match="would change how Mosquitto reads other lines"):
        PskFile(path).begin("b", "11")
    assert path.read_bytes() == b"a:00\n" + dropped


line_text = st.one_of(
    st.sampled_from(["# comment", "", "   ", "junk without colon", "#nrf-9:00", " #x:ab", "nrf-1:ab", "nrf-1 : cd"]),
    st.builds(lambda i, k: f"{i}:{k}", st.from_regex(r"[a-z0-9-]{1,12}", fullmatch=True),
              st.from_regex(r"[0-9a-f]{0,8}", fullmatch=True)),
)


@settings(max_examples=150, deadline=None)
@given(lines=st.lists(line_text, max_size=12), crlf=st.booleans(), identity=st.sampled_from(["nrf-1", "new-id"]))
def test_every_other_line_is_kept_byte_for_byte(tmp_path_factory, lines, crlf, identity):
    path = tmp_path_factory.mktemp("h") / "psk_file.txt"
    end = "\r\n" if crlf else "\n"
    original = "".join(line + end for line in lines).encode()
    path.write_bytes(original)
    before = view(parse(original))
    PskFile(path).commit(identity, "abcd")
    after = path.read_bytes()
    assert view(parse(after)) == {**before, identity: "abcd"}
    untouched = [raw for raw in parse(original) if raw.identity != identity or not raw.entry]
    assert [line.raw for line in parse(after) if line.identity != identity] == [line.raw for line in untouched]
    assert sum(1 for line in parse(after) if line.entry and line.identity == identity) == 1  # one entry each
