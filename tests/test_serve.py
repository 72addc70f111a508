"""Request-level serving: the scheduler against a hand-simulated case (batching, a preemption,
recompute), step times against the engine, request traces in three formats, determinism with a
seed, and bad input as one-line errors."""
import numpy as np
import pytest

from archsim.cli import main
from archsim.engine.simulator import Simulator
from archsim.hardware import load_hardware
from archsim.serving import serve
from archsim.serving.requests import read_trace
from archsim.serving.step_model import StepModel, composition_step
from archsim.trace.schema import Trace
from archsim.workload import load_workload

HW = "hw_configs/gpu_h100_sxm.yaml"
WL = "workloads/llama2_7b.yaml"


def engine_ps(hw, w, seqs, sampling):
    step = composition_step(w, seqs, sampling)
    return int(Simulator(hw).run(Trace((step,), w.to_dict())).step_ps.sum())


def test_step_times_equal_the_engine_on_one_device():
    hw, w = load_hardware(HW), load_workload(WL)
    model = StepModel(hw, w)
    assert model.additive
    rng = np.random.default_rng(1)
    cases = [([(1, 100), (1, 300), (64, 64)], 2), ([(200, 700)], 0), ([(1, 513)] * 8, 8)]
    cases += [([(1, int(c)) for c in rng.integers(1, 3000, 5)] + [(17, 40)], 5)]
    for seqs, s in cases:
        assert model.time_ps(seqs, s) == engine_ps(hw, w, seqs, s)


def test_a_ragged_batch_of_equal_contexts_costs_what_the_batched_trace_step_costs_on_pim():
    import dataclasses
    from archsim.trace.generate import step_ops
    from archsim.trace.schema import Phase, Step
    hw = load_hardware("hw_configs/pim_gpt.yaml")
    w = load_workload({"model": "gpt2_small", "prompt_tokens": 8, "generate_tokens": 2})
    model = StepModel(hw, w)
    assert not model.additive                   # PIM + host ASIC: the engine prices it
    w2 = dataclasses.replace(w, batch_size=2)
    st = Step(0, Phase.DECODE, 2, 1, 300, step_ops(w2, 1, 300))
    plain = int(Simulator(hw).run(Trace((st,), w2.to_dict())).step_ps.sum())
    assert model.time_ps([(1, 300), (1, 300)], 2) == plain
    assert model.time_ps([(1, 100), (1, 300)], 2) < plain


def test_scheduler_matches_a_hand_simulated_preemption(tmp_path):
    # two requests of a 4-token prompt and 6 output tokens; the cache holds 3 blocks of 4
    # tokens, each request alone needs 3 (4 + 6 - 1 = 9 tokens). By hand:
    #  it 1: both prefill (1 block each), both get their first token; 1 block free
    #  it 2: both decode at 4 cached tokens, each needs a block: B (latest) is preempted;
    #        B's recompute (4 + 1 = 5 tokens, 2 blocks) does not fit: A decodes alone
    #  it 3-6: A decodes (kv 6, 7, 8, 9) and finishes, freeing its 3 blocks
    #  it 7: B re-prefills its prompt and its first token (5 tokens), gets its second token
    #  it 8-11: B decodes (kv 6, 7, 8, 9) and finishes
    f = tmp_path / "reqs.csv"
    f.write_text("arrival_s,prompt_tokens,output_tokens\n0,4,6\n0,4,6\n")
    hw, w = load_hardware(HW), load_workload(WL)
    r = serve(hw, w, {"arrivals": "trace", "trace_file": str(f), "kv_capacity_tokens": 12,
                      "block_tokens": 4, "max_tokens_per_step": 9})
    model = StepModel(hw, w)
    its = [([(4, 4), (4, 4)], 2)] + [([(1, c)], 1) for c in (5, 6, 7, 8, 9)] + \
          [([(5, 5)], 1)] + [([(1, c)], 1) for c in (6, 7, 8, 9)]
    ends = np.cumsum([model.time_ps(s, n) for s, n in its])
    assert r.preemptions == 1
    assert r.iterations[:, 3].tolist() == [len(s) for s, _ in its]
    assert r.iterations[:, 4].tolist() == [sum(q for q, _ in s) for s, _ in its]
    assert r.iterations[:, 2].tolist() == ends.tolist()
    assert r.first_ps.tolist() == [ends[0], ends[0]]
    assert r.finish_ps.tolist() == [ends[5], ends[10]]
    # blocks in use after each iteration (a request leaving frees its blocks at once)
    assert r.iterations[:, 5].tolist() == [2, 2, 2, 2, 2, 0, 2, 2, 2, 2, 0]


def test_an_idle_replica_starts_at_the_arrival_and_chunks_a_long_prompt(tmp_path):
    f = tmp_path / "reqs.csv"
    f.write_text("arrival_s,prompt_tokens,output_tokens\n1.5,100,2\n")
    hw, w = load_hardware(HW), load_workload(WL)
    r = serve(hw, w, {"arrivals": "trace", "trace_file": str(f), "chunked_prefill": True,
                      "max_tokens_per_step": 64})
    m = StepModel(hw, w)
    t0 = 1_500_000_000_000
    e1 = t0 + m.time_ps([(64, 64)], 0)
    e2 = e1 + m.time_ps([(36, 100)], 1)
    e3 = e2 + m.time_ps([(1, 101)], 1)
    assert r.iterations[:, 2].tolist() == [e1, e2, e3]
    assert (r.first_ps[0], r.finish_ps[0]) == (e2, e3)
    assert r.tpot_s[0] == pytest.approx((e3 - e2) * 1e-12)


def test_poisson_runs_are_deterministic_with_a_seed():
    cfg = {"arrivals": "poisson", "rate_per_s": 40.0, "requests": 60, "seed": 7,
           "prompt_tokens": {"dist": "uniform", "low": 16, "high": 256},
           "output_tokens": {"dist": "lognormal", "median": 32, "sigma": 0.5, "high": 128},
           "slo_ttft": "200 ms", "slo_tpot": "20 ms"}
    a, b = serve(HW, WL, cfg), serve(HW, WL, cfg)
    c = serve(HW, WL, dict(cfg, seed=8))
    assert np.array_equal(a.finish_ps, b.finish_ps) and np.array_equal(a.first_ps, b.first_ps)
    assert not np.array_equal(a.requests.arrival_ps, c.requests.arrival_ps)
    da = a.to_dict()
    assert da["requests"] == 60 and 0 <= da["slo"]["met"] <= 60
    assert da["ttft_s"]["p50"] <= da["ttft_s"]["p90"] <= da["ttft_s"]["p99"]
    gaps = np.diff(a.requests.arrival_ps) * 1e-12
    assert 0.5 / 40 < gaps.mean() < 2 / 40


def test_trace_formats_of_vidur_and_llmservingsim(tmp_path, capsys):
    v = tmp_path / "vidur.csv"
    v.write_text("arrived_at,num_prefill_tokens,num_decode_tokens,extra\n0.5,10,3,x\n1.0,20,4,y\n")
    s = tmp_path / "lss.tsv"
    s.write_text("input_toks\toutput_toks\tarrival_time_ns\n10\t3\t500000000\n20\t4\t1000000000\n")
    j = tmp_path / "requests.jsonl"
    j.write_text('{"input_toks": 10, "output_toks": 3, "arrival_time_ns": 500000000}\n'
                 '{"input_toks": 20, "output_toks": 4, "arrival_time_ns": 1000000000}\n')
    a, b, c = read_trace(v), read_trace(s), read_trace(j)
    for r in (a, b, c):
        assert r.arrival_ps.tolist() == [500_000_000_000, 1_000_000_000_000]
        assert r.prompt_tokens.tolist() == [10, 20] and r.output_tokens.tolist() == [3, 4]
    j.write_text('{"input_toks": 10, "output_toks": 3, "arrival_time_ns": 5}\n'
                 '{"input_toks": 20, "output_toks": 4, "arrival_time_ns": -1}\n')
    assert main(["serve", HW, WL, "--arrivals", str(j)]) == 2
    assert f"{j}:2: arrival_time_ns: arrival time -1 is negative" in capsys.readouterr().err


BAD_TRACES = [
    ("arrival_s,prompt_tokens,output_tokens\n0,4,2\n-1,4,2\n", 3, "negative"),
    ("arrival_s,prompt_tokens\n0,4\n", 1, "missing column 'output_tokens'"),
    ("time,prompt,out\n0,4,2\n", 1, "unknown request-trace columns"),
    ("arrival_s,prompt_tokens,output_tokens\n1,4,2\n0.5,4,2\n", 3, "must not decrease"),
    ("arrival_s,prompt_tokens,output_tokens\n0,four,2\n", 2, "positive whole number"),
]


@pytest.mark.parametrize("text,line,msg", BAD_TRACES)
def test_bad_request_traces_are_one_line_errors(tmp_path, capsys, text, line, msg):
    f = tmp_path / "t.csv"
    f.write_text(text)
    assert main(["serve", HW, WL, "--arrivals", str(f)]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and err.startswith(f"archsim: error: {f}:{line}: ") and msg in err


@pytest.mark.parametrize("args,msg", [
    (["--arrivals", "poisson:fast", "--requests", "3"], "expected poisson:RATE"),
    (["--arrivals", "poisson:5"], "needs --requests"),
    (["--arrivals", "poisson:-5", "--requests", "3"], "rate_per_s"),
    (["--arrivals", "poisson:5", "--requests", "3", "--prompt-tokens", "5000"],
     "exceeds the model's max_positions"),
    (["--arrivals", "poisson:5", "--requests", "3", "--kv-capacity-tokens", "100"],
     "needs a KV cache of"),
    (["--arrivals", "poisson:5", "--requests", "3", "--max-tokens-per-step", "100"],
     "enable chunked prefill"),
    (["--arrivals", "poisson:5", "--requests", "3", "--slo-ttft", "5 GHz"], "slo_ttft"),
    (["--arrivals", "poisson:5", "--requests", "3", "--set", "decoding.skip_decode.max_layers=8",
      "--set", "decoding.skip_decode.min_layers=4"], "not skip_decode"),
])
def test_bad_serve_options_are_one_line_errors(capsys, args, msg):
    assert main(["serve", HW, WL] + args) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and err.startswith("archsim: error: ") and msg in err


def test_serve_cli_writes_the_plot_and_outputs(tmp_path, capsys):
    png, out = tmp_path / "p.png", tmp_path / "out"
    assert main(["serve", HW, WL, "--arrivals", "poisson:10", "--requests", "20",
                 "--slo-tpot", "10 ms", "--plot", str(png), "-o", str(out)]) == 0
    text = capsys.readouterr().out
    assert "TPOT" in text and "goodput" in text
    assert png.stat().st_size > 1000 and (out / "serve.json").is_file()
    assert len((out / "requests.csv").read_text().splitlines()) == 21


@pytest.mark.parametrize("hw,wl", [(HW, WL),
                                   ("hw_configs/pim_gpt.yaml", "workloads/pim_gpt/gpt2_small.yaml")])
def test_one_request_is_served_exactly_as_archsim_run_decodes_it(tmp_path, hw, wl):
    import archsim
    f = tmp_path / "one.csv"
    f.write_text("arrival_s,prompt_tokens,output_tokens\n0,64,16\n")
    r = archsim.run(hw, wl, overrides=["prompt_tokens=64", "generate_tokens=16"])
    s = serve(hw, wl, {"arrivals": "trace", "trace_file": str(f)})
    assert s.ttft_s[0] == pytest.approx(r.ttft_s, rel=1e-12)
    assert s.tpot_s[0] == pytest.approx(r.tpot_s["mean"], rel=1e-9)


def test_replicas_share_simultaneous_requests(tmp_path):
    f = tmp_path / "two.csv"
    f.write_text("arrival_s,prompt_tokens,output_tokens\n0,64,4\n0,64,4\n")
    one = tmp_path / "one.csv"
    one.write_text("arrival_s,prompt_tokens,output_tokens\n0,64,4\n")
    alone = serve(HW, WL, {"arrivals": "trace", "trace_file": str(one)})
    two = serve(HW, WL, {"arrivals": "trace", "trace_file": str(f), "replicas": 2})
    assert two.iterations[:, 0].tolist().count(1) == len(alone.iterations)
    assert two.finish_ps.tolist() == [alone.finish_ps[0]] * 2


def test_speculative_serving_reserves_blocks_for_the_drafts(capsys):
    spec = "workloads/llama2_7b_speculative.yaml"
    assert main(["serve", HW, spec, "--arrivals", "poisson:5", "--requests", "2",
                 "--prompt-tokens", "1100", "--output-tokens", "1000",
                 "--kv-capacity-tokens", "2100"]) == 2
    assert "needs a KV cache of 2103 tokens" in capsys.readouterr().err  # 1100+1000-1 + k


@pytest.mark.parametrize("wl", ["workloads/llama2_7b_speculative.yaml",
                                "workloads/llama2_7b_medusa.yaml"])
def test_one_request_under_speculative_or_tree_decoding_matches_archsim_run(tmp_path, wl):
    import archsim
    f = tmp_path / "one.csv"
    f.write_text("arrival_s,prompt_tokens,output_tokens\n0,64,16\n")
    r = archsim.run(HW, wl, overrides=["prompt_tokens=64", "generate_tokens=16"])
    s = serve(HW, wl, {"arrivals": "trace", "trace_file": str(f)})
    assert s.ttft_s[0] == pytest.approx(r.ttft_s, rel=1e-12)
    assert s.e2e_s[0] == pytest.approx(r.latency_s, rel=1e-12)
    assert len(s.iterations) == len(r.trace.steps)


@pytest.mark.parametrize("hw,wl", [(HW, WL), (HW, "workloads/llama2_7b_speculative.yaml"),
                                   ("hw_configs/pim_gpt.yaml", "workloads/pim_gpt/gpt2_small.yaml")])
def test_one_request_costs_the_energy_archsim_run_prices(tmp_path, hw, wl):
    import archsim
    f = tmp_path / "one.csv"
    f.write_text("arrival_s,prompt_tokens,output_tokens\n0,64,16\n")
    r = archsim.run(hw, wl, overrides=["prompt_tokens=64", "generate_tokens=16"])
    s = serve(hw, wl, {"arrivals": "trace", "trace_file": str(f)}).to_dict()
    assert s["energy_j"] == pytest.approx(r.energy_j, rel=1e-9)
    assert s["energy_per_token_j"] == pytest.approx(r.energy_per_token_j, rel=1e-9)


def test_the_fast_step_model_falls_back_to_the_engine_when_layers_differ(monkeypatch):
    # a model whose layers are not all alike (here: a doctored layer-0 attention cost) must
    # not be priced as num_layers copies of one layer
    hw, w = load_hardware(HW), load_workload(WL)
    model = StepModel(hw, w)
    real = model._fast
    monkeypatch.setattr(model, "_fast", lambda seqs, s: real(seqs, s) + 1)
    seqs = [(1, 100), (8, 8)]
    assert model.time_ps(seqs, 2) == engine_ps(hw, w, seqs, 2)
    assert not model.additive
