"""backup / plan / apply / restore through the real `cmng` process, on simulated kits."""
import json
import stat
import textwrap

import at
from at.sim.factory import _pem_certificates
from at.sim.modem import imei_for

from .conftest import run_cmng

NRF_CLOUD = 16842753


def out(proc) -> str:
    return proc.stdout.decode()


def err(proc) -> str:
    return proc.stderr.decode()


def test_backup_then_plan_of_the_unchanged_kit_exits_0(tmp_path, name):
    backup = run_cmng("backup", f"sim://{name}", "-o", str(tmp_path / "kit"))
    assert backup.returncode == 0, err(backup)
    manifest = tmp_path / "kit" / "manifest.toml"
    assert stat.S_IMODE(manifest.stat().st_mode) == 0o600
    assert "16842753-ca.pem" in out(backup) + err(backup)
    plan = run_cmng("plan", f"sim://{name}", "-f", str(manifest))
    assert plan.returncode == 0, err(plan)
    assert "16842753" in out(plan) and "ok" in out(plan)
    assert "%CMNG=0" not in err(plan)


def test_drift_exits_10_naming_the_sec_tag_and_apply_converges(tmp_path, name):
    assert run_cmng("backup", f"sim://{name}", "-o", str(tmp_path / "kit")).returncode == 0
    manifest = str(tmp_path / "kit" / "manifest.toml")
    with at.SoC(f"sim://{name}") as soc:
        soc.delete_credential(NRF_CLOUD, 0)
    plan = run_cmng("plan", f"sim://{name}", "-f", manifest)
    assert plan.returncode == 10, err(plan)
    row = next(line for line in out(plan).splitlines() if "write" in line)
    assert "16842753" in row and "ca" in row
    doc = json.loads(out(run_cmng("plan", f"sim://{name}", "-f", manifest, "--json")))
    [kit] = doc["kits"]
    assert [(s["sec_tag"], s["type"], s["action"]) for s in kit["steps"] if s["action"] != "ok"] == [
        (NRF_CLOUD, "ca", "write")]

    apply = run_cmng("apply", f"sim://{name}", "-f", manifest, "--yes", "-v")  # options after the ports
    assert apply.returncode == 0, err(apply)
    assert "AT%CMNG=0,16842753,0" in err(apply)
    assert "nRF Cloud" in err(apply)  # touching 16842753 warns, --yes is enough
    assert run_cmng("plan", f"sim://{name}", "-f", manifest).returncode == 0

    again = run_cmng("apply", f"sim://{name}", "-f", manifest, "--yes", "-v")
    assert again.returncode == 0, err(again)
    assert "AT%CMNG=1" in err(again)  # the trace is on, and shows only reads
    assert "%CMNG=0" not in err(again) and "%CMNG=3" not in err(again) and "CFUN=4" not in err(again)


def test_apply_asks_and_refuses_without_a_terminal(tmp_path, name, sim_state):
    manifest = tmp_path / "m.toml"
    manifest.write_text('version = 1\n[tag.5.identity]\ncontent = "x"\n')
    proc = run_cmng("apply", f"sim://{name}", "-f", str(manifest), input=b"y\n")
    assert proc.returncode == 2 and "--yes" in err(proc)
    with at.SoC(f"sim://{name}") as soc:
        assert soc.list_credentials(5) == []


def test_a_bad_manifest_is_refused_before_any_kit_is_opened(tmp_path, name, sim_state):
    manifest = tmp_path / "m.toml"
    manifest.write_text('version = 1\n[tag.5.ca]\npth = "ca.pem"\n')
    proc = run_cmng("apply", f"sim://{name}", "-f", str(manifest), "--yes")
    assert proc.returncode == 3
    assert f"{manifest}:3: unknown field 'pth' in sec_tag 5 ca" in err(proc)
    assert not (sim_state / f"{name}.json").exists()  # the simulated kit was never opened


def test_restore_onto_a_fresh_kit(tmp_path, name):
    ca = _pem_certificates("restore")[0]
    with at.SoC(f"sim://{name}") as soc:
        soc.write_credential(5, 4, "my-identity")
        soc.write_credential(5, 3, "00112233")
        soc.write_credential(6, 0, ca)
    assert run_cmng("backup", f"sim://{name}", "-o", str(tmp_path / "kit")).returncode == 0
    manifest = str(tmp_path / "kit" / "manifest.toml")
    fresh = f"{name}-fresh"
    proc = run_cmng("restore", f"sim://{fresh}", "-f", manifest, "--yes")
    assert proc.returncode == 0, err(proc)
    warnings = [line for line in err(proc).splitlines() if "warning" in line and "SHA-256" in line]
    assert any("sec_tag 5 psk" in w for w in warnings)
    assert any(f"sec_tag {NRF_CLOUD} client_key" in w for w in warnings)
    with at.SoC(f"sim://{fresh}") as soc, at.SoC(f"sim://{name}") as old:
        for tag, kind in ((5, 4), (6, 0), (NRF_CLOUD, 0)):
            assert soc.read_credential(tag, kind) == old.read_credential(tag, kind)
    doc = json.loads(out(run_cmng("restore", f"sim://{fresh}", "-f", manifest, "--yes", "--json")))
    [kit] = doc["kits"]
    assert {(s["sec_tag"], s["type"]) for s in kit["not_restorable"]} == {
        (5, "psk"), (NRF_CLOUD, "client_cert"), (NRF_CLOUD, "client_key")}


FLEET = '''
    version = 1
    psk_file = "psk_file.txt"
    [tag.1234.identity]
    template = "nrf-{imei}"
    [tag.1234.psk]
    generate = "psk"
    [tag.1234.ca]
    path = "ca.pem"
    '''


def fleet(tmp_path):
    (tmp_path / "ca.pem").write_text(_pem_certificates("fleet")[0])
    manifest = tmp_path / "fleet.toml"
    manifest.write_text(textwrap.dedent(FLEET))
    return str(manifest)


def test_apply_on_several_kits_in_parallel(tmp_path, name):
    manifest = fleet(tmp_path)
    kits = [f"sim://{name}-{i}" for i in range(4)]
    proc = run_cmng("apply", *kits, "-f", manifest, "--yes", "--json")
    assert proc.returncode == 0, err(proc)
    doc = json.loads(out(proc))
    assert sorted(k["port"] for k in doc["kits"]) == sorted(kits) and all(k["ok"] for k in doc["kits"])
    lines = (tmp_path / "psk_file.txt").read_text().split()
    assert sorted(line.split(":")[0] for line in lines) == sorted(f"nrf-{imei_for(f'{name}-{i}')}" for i in range(4))
    assert run_cmng("plan", *kits, "-f", manifest).returncode == 0


def test_a_kit_that_disappears_mid_apply_leaves_the_others_going(tmp_path, name):
    manifest = fleet(tmp_path)
    for limit in range(150, 4000, 150):
        good = [f"sim://{name}-{limit}-a", f"sim://{name}-{limit}-c"]
        bad = f"sim://{name}-{limit}-b?disconnect_after={limit}"
        proc = run_cmng("apply", good[0], bad, good[1], "-f", manifest, "--yes", "--json")
        doc = json.loads(out(proc)) if proc.stdout else {}
        kits = {k["port"]: k for k in doc.get("kits", [])}
        if proc.returncode == 9 and kits.get(bad, {}).get("stopped_at"):
            break
    else:
        raise AssertionError("no cut fell inside an apply")
    assert all(kits[port]["ok"] for port in good)
    assert f"{bad}: stopped at sec_tag 1234" in err(proc)
    assert run_cmng("plan", *good, "-f", manifest).returncode == 0


def test_readme_provisioning_walkthrough_runs_as_written(tmp_path):
    from pathlib import Path

    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    block = readme.split("## Provisioning: backup, plan, apply, restore", 1)[1].split("```\n", 2)[1]
    lines = [line for line in block.splitlines() if line.startswith("cmng ")]
    assert len(lines) == 7
    results = []
    for line in lines:
        command, _, comment = line.partition("#")
        proc = run_cmng(*command.split()[1:], cwd=tmp_path)
        assert proc.returncode == (10 if "exit 10" in comment else 0), (line, err(proc))
        results.append(proc)
    assert "16842753" in next(r for r in out(results[3]).splitlines() if "write" in r)
    assert "%CMNG=0" not in err(results[5]) and "AT%CMNG=1" in err(results[5])
    assert "cannot be restored" in err(results[6])
    with at.SoC("sim://spare") as spare, at.SoC("sim://demo") as demo:
        assert spare.read_credential(NRF_CLOUD, 0) == demo.read_credential(NRF_CLOUD, 0)


def run_on_terminal(argv: list[str], answer: bytes) -> tuple[int, str]:
    """cmng with a pseudo-terminal as stdin, answering the question with `answer`."""
    import os
    import pty
    import subprocess

    from .conftest import script

    master, slave = pty.openpty()
    try:
        proc = subprocess.Popen([script("cmng"), *argv], stdin=slave, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        os.write(master, answer)
        stdout, stderr = proc.communicate(timeout=60)
    finally:
        os.close(master)
        os.close(slave)
    return proc.returncode, stderr.decode()


def test_apply_asks_on_a_terminal(tmp_path, name):
    manifest = tmp_path / "m.toml"
    manifest.write_text('version = 1\n[tag.5.identity]\ncontent = "x"\n')
    code, text = run_on_terminal(["apply", f"sim://{name}", "-f", str(manifest)], b"n\n")
    assert code == 10 and "apply 1 change(s) to 1 kit(s)? [y/N]" in text and "nothing was changed" in text
    with at.SoC(f"sim://{name}") as soc:
        assert soc.list_credentials(5) == []
    code, text = run_on_terminal(["apply", f"sim://{name}", "-f", str(manifest)], b"y\n")
    assert code == 0, text
    with at.SoC(f"sim://{name}") as soc:
        assert soc.read_credential(5, 4) == "x"
    code, text = run_on_terminal(["apply", f"sim://{name}", "-f", str(manifest)], b"")
    assert code == 0 and "[y/N]" not in text  # nothing to change: nothing to ask


def test_every_manifest_problem_is_one_error_line(tmp_path, name):
    manifest = tmp_path / "m.toml"
    manifest.write_text('version = 1\n[tag.5.ca]\npth = "ca.pem"\n[tag.99999999999.identity]\ncontent = "x"\n')
    proc = run_cmng("plan", f"sim://{name}", "-f", str(manifest), "--json")
    lines = [line for line in err(proc).splitlines() if line.startswith("cmng: error: ")]
    assert proc.returncode == 3 and len(lines) == 2 and "Traceback" not in err(proc)
    assert lines[0].startswith(f"cmng: error: {manifest}:3: ") and lines[1].startswith(f"cmng: error: {manifest}:4: ")
    doc = json.loads(out(proc))
    assert doc["exit_code"] == 3 and len(doc["manifest_errors"]) == 2
    missing = run_cmng("plan", f"sim://{name}", "-f", str(tmp_path / "none.toml"))
    assert missing.returncode == 3 and "cannot read the manifest" in err(missing)


def test_a_kit_that_cannot_be_opened_is_reported_and_the_others_planned(tmp_path, name):
    manifest = tmp_path / "m.toml"
    manifest.write_text('version = 1\n[tag.5.identity]\ncontent = "x"\n')
    alone = run_cmng("plan", "/dev/does-not-exist-nrf91", "-f", str(manifest))
    assert alone.returncode == 6 and "does-not-exist" in err(alone)
    proc = run_cmng("apply", f"sim://{name}", "/dev/does-not-exist-nrf91", "-f", str(manifest), "--yes", "--json")
    assert proc.returncode == 9
    kits = {k["port"]: k for k in json.loads(out(proc))["kits"]}
    assert kits[f"sim://{name}"]["ok"] and not kits["/dev/does-not-exist-nrf91"]["ok"]
    assert kits["/dev/does-not-exist-nrf91"]["exit_code"] == 6
    same = run_cmng("apply", f"sim://{name}", f"sim://{name}?latency=0.01", "-f", str(manifest), "--yes")
    assert same.returncode == 3 and "same kit" in err(same)


def test_apply_to_a_pty_kit_and_a_sim_kit_together(tmp_path, name, pty_sim):
    manifest = fleet(tmp_path)
    sim = pty_sim()
    proc = run_cmng("apply", sim.path, f"sim://{name}-other", "-f", manifest, "--yes")
    assert proc.returncode == 0, err(proc)
    assert run_cmng("plan", sim.path, f"sim://{name}-other", "-f", manifest).returncode == 0
    assert len((tmp_path / "psk_file.txt").read_text().split()) == 2


def test_a_generated_psk_never_shows_in_the_trace_or_output(tmp_path, name):
    manifest = fleet(tmp_path)
    proc = run_cmng("apply", f"sim://{name}", "-f", manifest, "--yes", "-v", "--json")
    assert proc.returncode == 0, err(proc)
    psk = (tmp_path / "psk_file.txt").read_text().strip().split(":", 1)[1]
    assert "bytes redacted" in err(proc) and psk not in err(proc) and psk not in out(proc)
    assert stat.S_IMODE((tmp_path / "psk_file.txt").stat().st_mode) == 0o600
