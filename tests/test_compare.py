import json

import pytest

import archsim
from archsim.cli import main
from archsim.compare import compare


def test_compare_ratios_come_from_the_individual_runs(root, a100, gpt2_small):
    t4 = str(root / "hw_configs" / "gpu_t4.yaml")
    c = compare(a100, [t4], [gpt2_small], overrides=["generate_tokens=8"])
    row = c.rows()[0]
    a = archsim.run(a100, gpt2_small, overrides=["generate_tokens=8"])
    b = archsim.run(t4, gpt2_small, overrides=["generate_tokens=8"])
    assert row["gpu_t4"]["speedup"] == pytest.approx(b.latency_s / a.latency_s)
    assert row["gpu_t4"]["energy_efficiency"] == pytest.approx(
        b.energy_per_token_j / a.energy_per_token_j)
    assert row["gpu_a100_80gb"]["ms_per_token"] == pytest.approx(a.latency_s / 8 * 1e3)


def test_compare_cli_json(capsys, root, a100, gpt2_small):
    t4 = str(root / "hw_configs" / "gpu_t4.yaml")
    assert main(["compare", a100, gpt2_small, "--baseline", t4, "--set", "generate_tokens=4",
                 "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["target"] == "gpu_a100_80gb" and out["baselines"] == ["gpu_t4"]
    assert main(["compare", a100, gpt2_small, "--baseline", a100]) == 2
    assert "distinct names" in capsys.readouterr().err


def test_components_add_up_to_the_totals(root, a100, gpt2_small):
    t4 = str(root / "hw_configs" / "gpu_t4.yaml")
    c = compare(a100, [t4], [gpt2_small], overrides=["generate_tokens=4"])
    row = c.rows()[0]
    for h in ("gpu_a100_80gb", "gpu_t4"):
        comp = row[h]["components"]
        t = sum(sum(k.values()) for k in comp["time_ms_per_token"].values())
        e = sum(sum(a.values()) for a in comp["energy_mj_per_token"].values())
        assert t == pytest.approx(row[h]["ms_per_token"])     # one device: busy all the time
        assert e == pytest.approx(row[h]["mj_per_token"])
    assert "gpu0" in c.breakdown_table()
