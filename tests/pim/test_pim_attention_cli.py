"""``archsim pim-attention``: one decode step's attention (scores and context of every head)
with the counts the PIM device model charges (issue 13 item 5)."""
import json

import pytest

from archsim.cli import main
from archsim.errors import ConfigError
from archsim.pim import simulate_gemv
from archsim.pim.attention import simulate_scores_concat
from archsim.pim.attention_step import attention_step


def test_per_head_step_is_h_score_gemvs_and_h_context_gemvs():
    H, d, L = 8, 128, 512
    out = attention_step("hbm3-attacc", H, d, L)
    s = simulate_gemv("hbm3-attacc", L, d)
    c = simulate_gemv("hbm3-attacc", d, L)
    assert out["mapping"] == "per_head"
    assert out["scores"]["cycles"] == H * s.cycles and out["context"]["cycles"] == H * c.cycles
    assert out["cycles"] == H * (s.cycles + c.cycles)
    for k in ("ACTAB", "MACAB", "WRGB", "RDMAC", "PREA"):
        assert out["commands"][k] == H * (s.commands.get(k, 0) + c.commands.get(k, 0))
    assert out["energy_pj"] == pytest.approx(H * (s.energy.total_pj + c.energy.total_pj))


def test_concat_heads_uses_one_multi_head_score_stream():
    out = attention_step("pim_gpt_gddr6", 12, 64, 1024, mapping="concat_heads")
    multi = simulate_scores_concat("pim_gpt_gddr6", 1024, 64, 12)
    assert out["mapping"] == "concat_heads"
    assert out["scores"]["cycles"] == multi.cycles
    per_head = attention_step("pim_gpt_gddr6", 12, 64, 1024)
    assert out["scores"]["commands"]["ACTAB"] < per_head["scores"]["commands"]["ACTAB"]
    assert out["context"] == per_head["context"]


def test_bad_shapes_and_mappings_are_errors():
    with pytest.raises(ConfigError, match="multiple"):
        attention_step("hbm3-attacc", 12, 64, 10, kv_heads=5)
    with pytest.raises(ConfigError, match="unknown attention mapping"):
        attention_step("hbm3-attacc", 12, 64, 10, mapping="no_such_mapping")


def test_cli_json_and_one_line_errors(capsys):
    argv = ["pim-attention", "hbm3-attacc", "--heads", "4", "--head-dim", "128", "--kv-len",
            "256"]
    assert main(argv + ["--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert {"cycles", "time_ns", "energy_pj", "commands", "scores", "context"} <= set(d)
    assert d["cycles"] == d["scores"]["cycles"] + d["context"]["cycles"]
    assert main(argv + ["--kv-heads", "3"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("archsim: error:") and len(err.strip().splitlines()) == 1
