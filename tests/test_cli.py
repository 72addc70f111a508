import csv
import io
import json

import pytest

import archsim
from archsim.cli import main

KEYS = {"latency_s", "ttft_s", "tpot_s", "tokens_per_s", "energy_j", "energy_per_token_j",
        "usd_per_mtok", "breakdown"}


def test_run_json_has_the_documented_keys(capsys, a100, gpt2_small):
    assert main(["run", a100, gpt2_small, "--format", "json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert KEYS <= set(out)
    assert set(out["tpot_s"]) == {"mean", "p50", "p99"}
    assert out["latency_s"] == pytest.approx(out["ttft_s"] + 127 * out["tpot_s"]["mean"])
    assert out["tokens_per_s"] == pytest.approx(128 / out["latency_s"])
    assert out["energy_per_token_j"] == pytest.approx(out["energy_j"] / 128)
    dev = out["breakdown"]["energy_j"]["gpu0"]
    dyn = sum(dev["by_kind"].values())
    assert out["energy_j"] == pytest.approx(dyn + dev["static"])
    # rental cost: 2.2 USD/h (A100 preset) over the run, per generated token
    assert out["usd_per_mtok"] == pytest.approx(2.2 / 3600 * out["latency_s"] / 128 * 1e6)


def test_run_table_csv_and_output_dir(capsys, tmp_path, a100, gpt2_small):
    assert main(["run", a100, gpt2_small]) == 0
    table = capsys.readouterr().out
    assert "TPOT mean / p50 / p99" in table and "gemv" in table
    assert main(["run", a100, gpt2_small, "--format", "csv", "-o", str(tmp_path / "o")]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert len(rows) == 128 and rows[0]["phase"] == "prefill"
    assert {p.name for p in (tmp_path / "o").iterdir()} == {"result.json", "steps.csv",
                                                           "kinds.csv", "ops.csv",
                                                           "summary.txt"}


def test_timeline_is_valid_chrome_trace(tmp_path, a100, gpt2_small):
    p = tmp_path / "tl.json"
    assert main(["run", a100, gpt2_small, "--set", "generate_tokens=4", "--timeline",
                 str(p)]) == 0
    doc = json.loads(p.read_text())
    ev = doc["traceEvents"]
    names = {e["args"]["name"] for e in ev if e["ph"] == "M"}
    assert {"gpu0", "steps"} <= names
    ops = [e for e in ev if e["ph"] == "X" and e["cat"] != "step"]
    r = archsim.run(a100, gpt2_small, overrides=["generate_tokens=4"])
    assert len(ops) == r.trace.num_ops
    for e in ev:
        if e["ph"] == "X":
            assert e["dur"] >= 0 and e["ts"] >= 0 and isinstance(e["pid"], int)
    ops.sort(key=lambda e: e["ts"])
    for a, b in zip(ops, ops[1:]):           # one device: no two ops overlap
        assert a["ts"] + a["dur"] <= b["ts"] + 1e-6
    assert ops[-1]["ts"] + ops[-1]["dur"] == pytest.approx(r.latency_s * 1e6)


def test_list_and_version(capsys):
    assert main(["list", "models"]) == 0
    out = capsys.readouterr().out
    assert "llama2_70b" in out and "Touvron" in out
    assert main(["list", "devices"]) == 0
    assert "gpu" in capsys.readouterr().out
    assert main(["list", "presets"]) == 0
    assert "h100_sxm" in capsys.readouterr().out
    with pytest.raises(SystemExit) as e:
        main(["--version"])
    assert e.value.code == 0 and archsim.__version__ in capsys.readouterr().out


def test_trace_command_rejects_unknown_suffix(capsys, tmp_path, gpt2_small):
    assert main(["trace", gpt2_small, "-o", str(tmp_path / "t.txt")]) == 2
    assert not (tmp_path / "t.txt").exists()


def test_python_api_mirrors_cli(a100, gpt2_small):
    r = archsim.run(a100, gpt2_small, overrides=["batch_size=2"])
    d = r.to_dict()
    assert KEYS <= set(d) and d["run"]["batch"] == 2 and r.tokens == 256


def test_check_validates_dram_specs_and_pim_configs(capsys, root, write):
    presets = sorted((root / "archsim" / "presets").glob("*/*.yaml"))
    dram_pim = [str(p) for p in presets if p.parent.name in ("dram", "pim")]
    assert main(["check", *dram_pim]) == 0
    out = capsys.readouterr().out
    assert "DRAM spec 'HBM2'" in out and "PIM config 'GDDR6-AiM'" in out
    bad = write("d.yaml", "name: x\nstandard: HBM2\nextends: hbm2\ntiming:\n  nCL: \"14 GHz\"\n")
    assert main(["check", bad]) == 2
    assert "d.yaml:5: timing.nCL: wrong unit 'GHz'" in capsys.readouterr().err
