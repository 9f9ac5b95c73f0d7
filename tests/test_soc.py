"""The library against the simulated modem over sim://, including its fault injection."""
import time

import pytest
import serial
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import at
from at import protocol
from at.sim import device


def seed(name: str, tag: int, kind: int, content: str) -> None:
    device._memory[name].put(tag, kind, content)


def test_identity_and_modes(mem_url):
    with at.SoC(mem_url) as soc:
        imei = soc.get_imei()
        assert protocol.is_valid_imei(imei)
        assert soc.get_manufacturer_id() == "Nordic Semiconductor ASA"
        assert soc.get_model() == "nRF9151-LACA"
        assert soc.get_firmware_version() == "mfw_nrf91x1_2.0.2"
        assert soc.get_functional_mode() == 0
        soc.set_functional_mode(at.CFUN_MODE_OFFLINE)
        assert soc.get_functional_mode() == 4
        with pytest.raises(at.ValidationError):
            soc.set_functional_mode(3)
        assert soc.query_modem("AT+CGSN=1") == [f'+CGSN: "{imei}"']


def test_cmee_is_switched_on_and_restored(mem_url, name):
    with at.SoC(mem_url) as soc:
        with pytest.raises(at.CMEError) as err:
            soc.read_credential(99, 0)
        assert err.value.code == 513 and "nothing is stored" in str(err.value)
    assert device.devices[name].cmee == 0  # restored on close


def test_plain_error_is_a_command_error(mem_url):
    with at.SoC(mem_url) as soc:
        with pytest.raises(at.CommandError) as err:
            soc.command("AT+BOGUS")
        assert err.value.code is None and not isinstance(err.value, at.CMEError)


def test_list_filters_and_credential_tuples(mem_url):
    with at.SoC(mem_url) as soc:
        everything = soc.list_credentials()
        assert len(everything) == 6
        cloud = soc.list_credentials(at.NRF_CLOUD_SEC_TAG)
        assert [c.cred_type for c in cloud] == [0, 1, 2]
        only_ca = soc.list_credentials(cred_type=0)  # a type filter without a tag works too
        assert [(c.sec_tag, c.cred_type) for c in only_ca] == [(at.NRF_CLOUD_SEC_TAG, 0)]
        tag, kind, sha = cloud[0]  # indexable like the original lists
        assert (tag, kind) == (at.NRF_CLOUD_SEC_TAG, 0) and len(sha) == 64


@pytest.mark.parametrize("start", ["OK", "ERROR", "+CME ERROR: 513", "AT%CMNG=1", "%CMNG: 1,0,\"x\""])
def test_read_is_quote_aware_with_hostile_line_starts(mem_url, name, start):
    pem = ("-----BEGIN CERTIFICATE-----\n" + f"{start}AAAA\n" + "MIIB" * 16 + "\n" + f"{start}\n"
           + "-----END CERTIFICATE-----\n")
    with at.SoC(mem_url) as soc:
        seed(name, 77, 0, pem)
        assert soc.read_credential(77, 0) == pem
        assert soc.get_functional_mode() == 0  # and the link is still in step


def test_write_read_roundtrip_verifies_sha(mem_url):
    ca = at.sim.factory._pem_certificates("x")[0]
    with at.SoC(mem_url) as soc:
        stored = soc.write_credential(5, at.CRED_TYPE_ROOT_CA, ca.replace("\n", "\r\n"))
        assert stored.sha256 == protocol.sha256_hex(ca)
        assert soc.read_credential(5, 0) == ca
        soc.delete_credential(5, 0)
        assert soc.list_credentials(5) == []


def test_sha_mismatch_after_write_is_an_error(mem_url, name, monkeypatch):
    with at.SoC(mem_url) as soc:
        store = device._memory[name]
        real_put = type(store).put
        monkeypatch.setattr(store, "put", lambda tag, kind, content: real_put(store, tag, kind, content + "x"))
        with pytest.raises(at.VerificationError, match="hashes to"):
            soc.write_credential(5, 4, "identity")


def test_placeholder_sha_is_not_a_mismatch(name):
    with at.SoC(f"sim://{name}?state=memory&zero_sha=1") as soc:
        assert soc.write_credential(5, 4, "identity").sha256 is None
        assert all(c.sha256 is None for c in soc.list_credentials())


@pytest.mark.parametrize("identity", ['x",0,"y', 'id";+CFUN=1', "id\r\nAT+CFUN=1"])
def test_injection_is_refused_and_never_reaches_the_modem(mem_url, name, identity):
    with at.SoC(mem_url) as soc:
        seen = len(device.devices[name].commands)
        with pytest.raises(at.ValidationError):
            soc.write_credential(5, at.CRED_TYPE_PSK_IDENTITY, identity)
        assert device.devices[name].commands[seen:] == []
        assert soc.get_functional_mode() == 0


def test_oversized_command_is_refused_before_sending(mem_url, name):
    with at.SoC(mem_url) as soc:
        seen = len(device.devices[name].commands)
        with pytest.raises(at.ValidationError, match="CONFIG_AT_HOST_CMD_MAX_LEN"):
            soc.write_credential(5, at.CRED_TYPE_PSK_IDENTITY, "a" * 4090)
        assert device.devices[name].commands[seen:] == []


@pytest.mark.parametrize("kind", [1, 2, 3])
def test_unreadable_types_are_refused_client_side(mem_url, name, kind):
    with at.SoC(mem_url) as soc:
        seen = len(device.devices[name].commands)
        with pytest.raises(at.ValidationError):
            soc.read_credential(at.NRF_CLOUD_SEC_TAG, kind)
        assert device.devices[name].commands[seen:] == []


def test_write_on_active_modem_explains_518_and_offline_restores(mem_url):
    with at.SoC(mem_url) as soc:
        soc.set_functional_mode(1)
        with pytest.raises(at.CMEError) as err:
            soc.write_credential(5, 4, "id")
        assert err.value.code == 518 and "CFUN=4" in err.value.advice
        with soc.offline() as before:
            assert before == 1 and soc.get_functional_mode() == 4
            soc.write_credential(5, 4, "id")
        assert soc.get_functional_mode() == 1
        with pytest.raises(RuntimeError):
            with soc.offline():
                raise RuntimeError("boom")
        assert soc.get_functional_mode() == 1  # restored on error too


def test_urcs_before_inside_and_after_responses_are_set_aside(name):
    with at.SoC(f"sim://{name}?state=memory&urcs=1") as soc:
        creds = soc.list_credentials(at.NRF_CLOUD_SEC_TAG)
        assert len(creds) == 3
        ca = soc.read_credential(at.NRF_CLOUD_SEC_TAG, 0)
        assert ca.startswith("-----BEGIN CERTIFICATE-----")
        urcs = soc.urcs
        assert any(u.startswith("+CEREG:") for u in urcs)
        assert any(u.startswith("%XTIME:") for u in urcs)
        assert any(u.startswith("%CESQ:") for u in urcs)  # the one after the last OK too


def test_banner_echo_and_fragmented_output_do_not_break_commands(name):
    url = f"sim://{name}?state=memory&banner=1&echo=1&fragment=3"
    with at.SoC(url) as soc:
        assert protocol.is_valid_imei(soc.get_imei())
        assert len(soc.list_credentials()) == 6


def test_noise_and_invalid_utf8_between_commands(mem_url, name):
    with at.SoC(mem_url) as soc:
        link = soc._link.serial.raw
        link._sim_link._schedule(b"\xff\xfe garbage\r\n\x00partial", 0)
        assert protocol.is_valid_imei(soc.get_imei())
        link._sim_link._schedule(b'"stray quote \xc3\r\n', 0)
        assert soc.get_functional_mode() == 0


def test_timeout_names_the_command_and_grows_with_the_wire_time(name):
    with at.SoC(f"sim://{name}?state=memory", timeout=5) as soc:
        soc._link.timeout = 0.2
        soc._link.serial.raw._sim_link.options.latency = 1.0
        started = time.monotonic()
        with pytest.raises(at.ATTimeoutError, match=r"AT\+CFUN\?"):
            soc.get_functional_mode()
        assert time.monotonic() - started < 1.0
    # at 9600 baud a long read takes longer than the base timeout, and still succeeds
    with at.SoC(f"sim://{name}?state=memory&baud=9600", baudrate=9600, timeout=0.3) as soc:
        ca = soc.read_credential(at.NRF_CLOUD_SEC_TAG, 0)
        assert len(ca) * 10 / 9600 > 0.3


def test_unplugged_mid_command_is_a_port_error(name):
    with at.SoC(f"sim://{name}?state=memory&disconnect_after=200") as soc:
        with pytest.raises(at.PortError, match="went away"):
            soc.list_credentials()


def test_bad_ports_are_port_errors(name):
    with pytest.raises(at.PortError, match="no such port"):
        at.SoC("/dev/does-not-exist-nrf91")
    with pytest.raises(at.PortError, match="bad simulated device name"):
        at.SoC("sim://bad name")
    with pytest.raises(at.PortError, match="unknown simulator option"):
        at.SoC(f"sim://{name}?bogus=1")


def test_sim_url_works_for_plain_pyserial(mem_url):
    link = serial.serial_for_url(mem_url, timeout=1)
    link.write(b"AT+CGMI\r\n")
    assert link.read_until(b"OK\r\n") == b"Nordic Semiconductor ASA\r\nOK\r\n"
    link.close()


def test_state_persists_between_opens_in_the_state_dir(name, sim_state):
    with at.SoC(f"sim://{name}") as soc:
        soc.write_credential(5, 4, "kept")
    with at.SoC(f"sim://{name}") as soc:
        assert soc.read_credential(5, 4) == "kept"
    assert (sim_state / f"{name}.json").exists()


identity = st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126, blacklist_characters='"'),
                   min_size=1, max_size=200)
psk_hex = st.binary(min_size=1, max_size=64).map(bytes.hex)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(identity=identity, psk=psk_hex)
def test_random_valid_content_round_trips(mem_url, identity, psk):
    with at.SoC(mem_url) as soc:
        assert soc.write_credential(9, 4, identity).sha256 == protocol.sha256_hex(identity.rstrip("\r\n"))
        assert soc.read_credential(9, 4) == identity
        assert soc.write_credential(9, 3, psk).sha256 == protocol.sha256_hex(psk)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(noise=st.binary(min_size=1, max_size=120))
def test_random_noise_only_raises_at_errors(mem_url, noise):
    soc = at.SoC(mem_url, timeout=0.2)
    try:
        soc._link.serial.raw._sim_link._schedule(noise, 0)
        try:
            soc.get_functional_mode()
        except at.ATError:
            pass
        # the command after the noise works
        assert soc.get_functional_mode() == 0
    finally:
        soc.close()


def test_urcs_with_latency_do_not_make_the_modem_deaf(name):
    with at.SoC(f"sim://{name}?state=memory&urcs=1&latency=0.01", timeout=2) as soc:
        for _ in range(3):
            assert len(soc.list_credentials()) == 6
        assert device.devices[name].commands[-1] == "AT%CMNG=1"
