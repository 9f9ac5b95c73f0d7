"""Plan and apply against simulated kits: one list per plan, exactly the plan applied, nothing on a converged kit."""
import json
import textwrap

import pytest

import at
from at import manifest, pskfile
from at.credentials import NRF_CLOUD_SEC_TAG, CredType
from at.plan import Action, apply_plan, make_plan
from at.protocol import sha256_hex
from at.sim import device
from at.sim.factory import _pem_certificates
from at.sim.modem import imei_for

CA, CERT, KEY = _pem_certificates("plan-tests")


def load(tmp_path, text: str) -> manifest.Manifest:
    (tmp_path / "ca.pem").write_text(CA)
    (tmp_path / "key.pem").write_text(KEY)
    path = tmp_path / "m.toml"
    path.write_text(textwrap.dedent(text))
    return manifest.load(path)


BASIC = f'''
    version = 1
    psk_file = "psk_file.txt"
    [tag.42.ca]
    path = "ca.pem"
    [tag.42.client_cert]
    content = """{CERT}"""
    [tag.42.client_key]
    path = "key.pem"
    [tag.1234.identity]
    content = "fleet-id"
    [tag.1234.psk]
    generate = "psk"
    [tag.{NRF_CLOUD_SEC_TAG}.client_cert]
    absent = true
    [tag.77.identity]
    absent = true
    '''


def cmng_commands(name: str, since: int = 0) -> list[str]:
    return [c for c in device.devices[name].commands[since:] if c.upper().startswith("AT%CMNG")]


def test_plan_lists_once_and_apply_converges(tmp_path, mem_url, name):
    m = load(tmp_path, BASIC)
    with at.SoC(mem_url) as soc:
        start = len(device.devices[name].commands)
        plan = make_plan(soc, m)
        assert cmng_commands(name, start) == ["AT%CMNG=1"]  # the hash answers everything: no reads
        actions = {(s.sec_tag, int(s.cred_type)): s.action for s in plan.steps}
        assert actions == {(42, 0): Action.WRITE, (42, 1): Action.WRITE, (42, 2): Action.WRITE,
                           (1234, 3): Action.WRITE, (1234, 4): Action.WRITE, (NRF_CLOUD_SEC_TAG, 1): Action.DELETE,
                           (77, 4): Action.OK}
        assert plan.steps[0].action == Action.DELETE and "nRF Cloud relies" in plan.steps[0].warning
        order = [(s.sec_tag, int(s.cred_type)) for s in plan.changes]
        assert order.index((1234, 4)) < order.index((1234, 3))  # identity before the PSK it names
        assert plan.imei == imei_for(name) and not plan.converged
        doc = json.loads(json.dumps(plan.as_dict()))
        assert doc["steps"][0] == {"sec_tag": NRF_CLOUD_SEC_TAG, "cred_type": 1, "type": "client_cert", "action": "delete",
                                   "reason": "present, manifest says absent", "current_sha256": plan.steps[0].current,
                                   "wanted_sha256": None, "warning": plan.steps[0].warning}
        assert KEY not in json.dumps(doc) and "BEGIN" not in json.dumps(doc)

        soc.set_functional_mode(1)  # an active kit goes offline once and comes back
        start = len(device.devices[name].commands)
        seen = []
        result = apply_plan(soc, plan, m, on_step=seen.append)
        assert result.ok and result.state == "6 change(s) applied" and seen == plan.changes
        sent = device.devices[name].commands[start:]
        assert [c for c in sent if c.startswith("AT+CFUN=")] == ["AT+CFUN=4", "AT+CFUN=1"]
        assert soc.get_functional_mode() == 1

        stored = device._memory[name].credentials()
        assert stored[(42, 0)] == CA and stored[(42, 2)] == KEY and stored[(1234, 4)] == "fleet-id"
        assert (NRF_CLOUD_SEC_TAG, 1) not in stored
        assert pskfile.read_psk_file(tmp_path / "psk_file.txt") == {"fleet-id": stored[(1234, 3)]}
        assert (tmp_path / "psk_file.txt").stat().st_mode & 0o777 == 0o600

        again = make_plan(soc, m)
        assert again.converged and {s.action for s in again.steps} == {Action.OK}
        start = len(device.devices[name].commands)
        assert apply_plan(soc, again, m).state == "already as the manifest says"
        assert device.devices[name].commands[start:] == []  # a converged kit: nothing sent at all


def test_drift_is_found_by_hash(tmp_path, mem_url, name):
    m = load(tmp_path, BASIC)
    with at.SoC(mem_url) as soc:
        apply_plan(soc, make_plan(soc, m), m)
        with soc.offline():
            soc.write_credential(42, 0, _pem_certificates("other")[0])
            soc.delete_credential(42, 2)
            soc.write_credential(77, 4, "stray")
        plan = make_plan(soc, m)
        changed = {(s.sec_tag, int(s.cred_type)): s.action for s in plan.changes}
        assert changed == {(42, 0): Action.REPLACE, (42, 2): Action.WRITE, (77, 4): Action.DELETE}
        start = len(device.devices[name].commands)
        assert apply_plan(soc, plan, m).ok
        changes = [c.split(',"')[0] for c in cmng_commands(name, start) if c[:9] in ("AT%CMNG=0", "AT%CMNG=3")]
        assert changes == ["AT%CMNG=3,77,4", "AT%CMNG=0,42,0", "AT%CMNG=0,42,2"]  # exactly the plan, in its order
        assert make_plan(soc, m).converged


def test_generated_psk_is_replaced_when_the_record_is_lost(tmp_path, mem_url):
    m = load(tmp_path, BASIC)
    with at.SoC(mem_url) as soc:
        apply_plan(soc, make_plan(soc, m), m)
        first = pskfile.read_psk_file(tmp_path / "psk_file.txt")["fleet-id"]
        (tmp_path / "psk_file.txt").write_text("other:00ff\n")
        step = next(s for s in make_plan(soc, m).steps if s.cred_type == CredType.PSK)
        assert step.action == Action.REPLACE and "no PSK for identity 'fleet-id'" in step.reason
        apply_plan(soc, make_plan(soc, m), m)
        record = pskfile.read_psk_file(tmp_path / "psk_file.txt")
        assert record["other"] == "00ff" and record["fleet-id"] != first
        assert soc.list_credentials(1234, 3)[0].sha256 == sha256_hex(record["fleet-id"])


def test_hash_only_slots_warn_and_are_never_touched(tmp_path, mem_url, name):
    with at.SoC(mem_url) as soc:
        key_sha = soc.list_credentials(NRF_CLOUD_SEC_TAG, 2)[0].sha256
        m = load(tmp_path, f'''
            version = 1
            [tag.{NRF_CLOUD_SEC_TAG}.client_key]
            sha256 = "{key_sha.lower()}"
            [tag.{NRF_CLOUD_SEC_TAG}.client_cert]
            sha256 = "{"1" * 64}"
            [tag.9.psk]
            sha256 = "{"2" * 64}"
            ''')
        plan = make_plan(soc, m)
        by_slot = {(s.sec_tag, int(s.cred_type)): s for s in plan.steps}
        assert by_slot[(NRF_CLOUD_SEC_TAG, 2)].action == Action.OK
        assert by_slot[(NRF_CLOUD_SEC_TAG, 1)].action == Action.WARN
        assert "SHA-256 differs" in by_slot[(NRF_CLOUD_SEC_TAG, 1)].reason
        assert by_slot[(9, 3)].action == Action.WARN and by_slot[(9, 3)].reason.startswith("empty")
        assert plan.converged and len(plan.warnings) == 2
        start = len(device.devices[name].commands)
        assert apply_plan(soc, plan, m).ok
        assert device.devices[name].commands[start:] == []


def test_old_firmware_without_hashes_reads_only_what_it_must(tmp_path, name):
    m = load(tmp_path, '''
        version = 1
        [tag.42.ca]
        path = "ca.pem"
        [tag.42.client_key]
        path = "key.pem"
        ''')
    url = f"sim://{name}?state=memory&zero_sha=1"
    with at.SoC(url) as soc:
        apply_plan(soc, make_plan(soc, m), m)  # writes verify as far as the firmware lets them
        start = len(device.devices[name].commands)
        plan = make_plan(soc, m)
        assert cmng_commands(name, start) == ["AT%CMNG=1", "AT%CMNG=2,42,0"]  # the CA can be read; the key cannot
        by_type = {int(s.cred_type): s for s in plan.steps}
        assert by_type[0].action == Action.OK and by_type[0].reason == "content matches (read back)"
        assert by_type[2].action == Action.WARN and "hash not reported" in by_type[2].reason


def test_per_kit_overrides(tmp_path, name):
    imei = imei_for(name)
    m = load(tmp_path, f'''
        version = 1
        [tag.5.identity]
        content = "everyone"
        [kit.{imei}.tag.5.identity]
        content = "just-me"
        [kit.{imei}.tag.6.identity]
        content = "mine-only"
        ''')
    with at.SoC(f"sim://{name}?state=memory") as soc:
        apply_plan(soc, make_plan(soc, m), m)
        assert soc.read_credential(5, 4) == "just-me" and soc.read_credential(6, 4) == "mine-only"
    with at.SoC(f"sim://{name}-other?state=memory") as soc:
        apply_plan(soc, make_plan(soc, m), m)
        assert soc.read_credential(5, 4) == "everyone" and soc.list_credentials(6) == []


def test_a_fleet_gets_one_identity_and_psk_per_kit(tmp_path, name):
    m = load(tmp_path, '''
        version = 1
        psk_file = "psk_file.txt"
        [tag.1234.identity]
        template = "nrf-{imei}"
        [tag.1234.psk]
        generate = "psk"
        ''')
    kits = [f"{name}-{i}" for i in range(3)]
    for kit in kits:
        with at.SoC(f"sim://{kit}?state=memory") as soc:
            assert apply_plan(soc, make_plan(soc, m), m).ok
    record = pskfile.read_psk_file(tmp_path / "psk_file.txt")
    assert sorted(record) == sorted(f"nrf-{imei_for(kit)}" for kit in kits)
    for kit in kits:
        with at.SoC(f"sim://{kit}?state=memory") as soc:
            assert make_plan(soc, m).converged  # each kit's PSK matches its own line
            assert soc.list_credentials(1234, 3)[0].sha256 == sha256_hex(record[f"nrf-{imei_for(kit)}"])


def test_a_plan_is_not_applied_to_another_kit(tmp_path, name):
    m = load(tmp_path, 'version = 1\n[tag.5.identity]\ncontent = "x"\n')
    with at.SoC(f"sim://{name}?state=memory") as soc:
        plan = make_plan(soc, m)
    with at.SoC(f"sim://{name}-swapped?state=memory") as soc:
        result = apply_plan(soc, plan, m)
        assert not result.ok and "plan again" in str(result.error) and soc.list_credentials(5) == []


def test_unplugged_mid_apply_names_the_slot_where_it_stopped(tmp_path, name):
    """Cut the link after more and more bytes until it falls between two writes: the report says where."""
    m = load(tmp_path, BASIC)
    for limit in range(30, 3000, 10):
        kit = f"{name}-{limit}"
        with at.SoC(f"sim://{kit}?state=memory") as soc:
            plan = make_plan(soc, m)
        try:
            soc = at.SoC(f"sim://{kit}?state=memory&disconnect_after={limit}")
        except at.PortError:
            continue
        result = apply_plan(soc, plan, m)
        soc.close()
        if result.done and result.failed:
            break
    else:
        pytest.fail("no cut fell between two writes")
    assert isinstance(result.error, at.PortError) and not result.ok
    assert result.as_dict()["stopped_at"] == {"sec_tag": result.failed.sec_tag, "cred_type": int(result.failed.cred_type),
                                              "action": result.failed.action.value}
    assert result.failed == plan.changes[len(result.done)]
    assert result.state.startswith(f"stopped at {result.failed.slot_name} ({result.failed.action.value}) after "
                                   f"{len(result.done)} change(s): ")
    done = {(d.sec_tag, d.cred_type) for d in result.done}
    with at.SoC(f"sim://{kit}?state=memory") as soc:  # what was done is done, and a new plan finishes the rest
        left = make_plan(soc, m)
        assert [s for s in left.changes if (s.sec_tag, s.cred_type) in done] == []
        assert apply_plan(soc, left, m).ok and make_plan(soc, m).converged
    print("cut after", limit, "bytes:", result.state)


def test_plan_and_apply_over_a_pty(tmp_path, pty_sim):
    sim = pty_sim()
    m = load(tmp_path, BASIC)
    with at.SoC(sim.path, timeout=5) as soc:
        result = apply_plan(soc, make_plan(soc, m), m)
        assert result.ok and len(result.done) == 6
    with at.SoC(sim.path, timeout=5) as soc:
        assert make_plan(soc, m).converged


def test_the_readme_python_example_runs(tmp_path, monkeypatch, capsys):
    from pathlib import Path

    readme = (Path(__file__).parent.parent / "README.md").read_text()
    example = readme.split("```toml\n", 1)[1].split("```", 1)[0]
    code = readme.split("From Python:\n\n```python\n", 1)[1].split("```", 1)[0]
    (tmp_path / "fleet.toml").write_text(example)
    (tmp_path / "ca.pem").write_text(CA)
    monkeypatch.chdir(tmp_path)
    exec(compile(code, "README.md", "exec"), {})
    out = capsys.readouterr().out
    assert "sec_tag 1234 psk write" in out and "sec_tag 7 client_key warn" in out
    assert out.rstrip().endswith("3 change(s) applied")  # ca, identity, psk; tag 42 is already empty
    assert "nrf-" in (tmp_path / "psk_file.txt").read_text()
