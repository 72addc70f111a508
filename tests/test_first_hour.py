"""A new user's first hour (issue 14): what broke or misled, each now a clear answer."""
import json

import pytest

from archsim.cli import main


def _err(capsys, argv):
    rc = main(argv)
    cap = capsys.readouterr()
    assert "Traceback" not in cap.err
    return rc, cap.out, cap.err


@pytest.fixture
def tiny_trace(tmp_path, gpt2_small, capsys):
    path = tmp_path / "t.json"
    assert main(["trace", gpt2_small, "-o", str(path), "--set", "prompt_tokens=4",
                 "--set", "generate_tokens=2"]) == 0
    capsys.readouterr()
    return path


def test_an_unknown_op_dtype_is_refused_when_the_trace_is_loaded(capsys, a100, tiny_trace):
    doc = json.loads(tiny_trace.read_text())
    doc["steps"][1]["ops"][3]["dtype"] = "fp17"
    tiny_trace.write_text(json.dumps(doc))
    for argv in (["check", str(tiny_trace)], ["run", a100, str(tiny_trace)]):
        rc, _, err = _err(capsys, argv)
        assert rc == 2
        assert "t.json: steps[1].ops[3].dtype: unknown dtype 'fp17'; did you mean 'fp16'?" in err


def test_preset_names_are_case_insensitive(capsys, gpt2_small, write):
    rc, out, _ = _err(capsys, ["dram", "HBM2", "--requests", "10"])
    assert rc == 0 and "DRAM HBM2" in out
    hw = write("hw.yaml", "name: x\ndevices:\n  gpu0: {extends: A100_80GB}\n")
    rc, out, _ = _err(capsys, ["check", hw, gpt2_small])
    assert rc == 0 and "1 device" in out


# ---- item 3: every output path is checked before anything is simulated ----------------------

@pytest.fixture
def a_file(tmp_path):
    p = tmp_path / "a_file"
    p.write_text("keep me\n")
    return p


@pytest.mark.parametrize("args, fragment", [
    (["-o", "{f}"], "--output-dir: cannot write into '{f}': it is an existing file"),
    (["-o", "{f}/sub"], "--output-dir: cannot write '{f}/sub': {f} is a file, not a directory"),
    (["--timeline", "{f}/t.json"], "--timeline: cannot write '{f}/t.json': {f} is a file"),
    (["--timeline", "{d}"], "--timeline: cannot write '{d}': it is a directory"),
    (["-o", "{d}/same", "--timeline", "{d}/same"], "'{d}/same' is also written by --timeline"),
    (["--timeline", "{d}/o/result.json", "-o", "{d}/o"], "is also written by --timeline"),
    (["--timeline-steps", "0-3"], "--timeline-steps and --timeline-layers need --timeline"),
    (["--timeline", "{d}/t.json", "--timeline-steps", "3-1"], "ends before it starts"),
    (["--timeline", "{d}/t.json", "--timeline-layers", "x"], "cannot read 'x'"),
])
def test_a_bad_output_is_refused_before_simulating(capsys, monkeypatch, tmp_path, a_file, a100,
                                                   gpt2_small, args, fragment):
    import archsim.api
    monkeypatch.setattr(archsim.api, "_run", lambda *a: pytest.fail("simulated"))
    fill = {"f": str(a_file), "d": str(tmp_path)}
    before = sorted(p.name for p in tmp_path.iterdir())
    rc, out, err = _err(capsys, ["run", a100, gpt2_small] + [a.format(**fill) for a in args])
    assert rc == 2 and err.count("\n") == 1 and fragment.format(**fill) in err
    assert sorted(p.name for p in tmp_path.iterdir()) == before  # nothing written
    assert a_file.read_text() == "keep me\n"


@pytest.mark.parametrize("argv, fragment", [
    (["trace", "{wl}", "-o", "{f}/t.json"], "--output: cannot write '{f}/t.json'"),
    (["trace", "{wl}", "-o", "{d}"], "--output: '{d}' must end in .json or .json.gz"),
    (["calibrate", "{hw}", "{d}/missing.json", "-o", "{f}/new.yaml"],
     "--output: cannot write '{f}/new.yaml'"),
    (["validate", "{hw}", "{d}/missing.json", "--plot", "{f}/p.png"],
     "--plot: cannot write '{f}/p.png'"),
    (["import-kineto", "{d}/missing.json", "-o", "{f}/t.json"],
     "--output: cannot write '{f}/t.json'"),
    (["capture", "{wl}", "--device", "cpu", "-o", "{f}"],
     "--output-dir: cannot write into '{f}': it is an existing file"),
    (["schema", "hw", "-o", "{d}"], "--output: cannot write '{d}': it is a directory"),
])
def test_other_commands_check_their_outputs(capsys, tmp_path, a_file, a100, gpt2_small, argv,
                                            fragment):
    fill = {"f": str(a_file), "d": str(tmp_path), "wl": gpt2_small, "hw": a100}
    rc, _, err = _err(capsys, [a.format(**fill) for a in argv])
    assert rc == 2 and fragment.format(**fill) in err


# ---- item 5: huge runs are refused up front, and long ones report progress -------------------

HUGE = ["--set", "generate_tokens=1000000000", "--set", "model.max_positions=2000000000"]


def test_a_huge_run_is_refused_without_force(capsys, a100, gpt2_small, tmp_path):
    rc, _, err = _err(capsys, ["run", a100, gpt2_small] + HUGE)
    assert rc == 2 and "this run is too large: 1,000,000,000 steps, 148,000,000,000 ops" in err
    assert "pass --force" in err
    rc, _, err = _err(capsys, ["trace", gpt2_small, "-o", str(tmp_path / "t.json")] + HUGE)
    assert rc == 2 and "too large" in err and not (tmp_path / "t.json").exists()


def test_the_estimate_matches_the_trace_and_counts_only_recorded_steps(a100):
    from archsim import guard, load_hardware, load_workload
    from archsim.engine.timeline import Selection
    from archsim.trace.generate import generate_trace
    w = load_workload({"model": "llama2_7b", "prompt_tokens": 8, "generate_tokens": 50})
    est = guard.estimate_workload(w, load_hardware(a100))
    assert est.ops == generate_trace(w).num_ops and est.steps == 50
    full = guard.estimate_workload(w, timeline=True)
    some = guard.estimate_workload(w, timeline=True, recorded=Selection.parse("0,10-11"))
    per_op = guard.BYTES_PER_TIMELINE_OP
    assert full.memory_bytes - est.memory_bytes == est.ops * per_op
    assert some.memory_bytes - est.memory_bytes == (generate_trace(w).steps[0].ops.__len__()
                                                   + 2 * len(generate_trace(w).steps[1].ops)
                                                   ) * per_op
    with pytest.raises(Exception, match="more than 10 ops"):
        guard.check(est, max_ops=10)
    guard.check(est, max_ops=10, force=True)


def test_progress_lines_when_stderr_is_not_a_terminal():
    import io

    from archsim.progress import LineProgress, progress_bar
    now = [0.0]
    stream = io.StringIO()
    bar = LineProgress(100, "step", "run", stream, clock=lambda: now[0])
    for i in range(100):
        now[0] = i * 0.5     # 50 s in all: a line after 2 s, then every 10 s
        bar.update(1)
    lines = stream.getvalue().splitlines()
    assert len(lines) == 5 and lines[0].startswith("archsim: run: 5/100 steps (5.0%), 2 s")
    assert "about" in lines[0] and "s left" in lines[0]
    assert isinstance(progress_bar(10, "step", "run", io.StringIO()), LineProgress)


# ---- item 8: timelines honour .gz and can be limited to steps and layers ---------------------

def test_timeline_gz_and_subsets(capsys, tmp_path, a100, gpt2_small):
    import gzip
    full, part = tmp_path / "full.json", tmp_path / "part.json.gz"
    assert main(["run", a100, gpt2_small, "--timeline", str(full)]) == 0
    assert main(["run", a100, gpt2_small, "--timeline", str(part), "--timeline-steps",
                 "0,5-6", "--timeline-layers", "1"]) == 0
    capsys.readouterr()
    raw = part.read_bytes()
    assert raw[:2] == b"\x1f\x8b"
    events = [e for e in json.loads(gzip.decompress(raw))["traceEvents"] if e["ph"] == "X"
              and e.get("cat") != "step"]
    assert {e["args"]["step"] for e in events} == {0, 5, 6}
    assert {e["args"]["layer"] for e in events} == {-1, 1}
    whole = json.loads(full.read_text())["traceEvents"]
    assert len(whole) > 50 * len(events)
    # the subset is the same events as the full timeline, not a different run
    keep = {(e["name"], e["args"]["step"], e["ts"]) for e in whole if e["ph"] == "X"
            and e.get("cat") != "step" and e["args"]["step"] in (0, 5, 6)
            and e["args"]["layer"] in (-1, 1)}
    assert keep == {(e["name"], e["args"]["step"], e["ts"]) for e in events}


# ---- item 10: per-op and per-kind tables, with energy ----------------------------------------

def test_per_kind_and_per_op_tables_with_energy(capsys, root):
    import csv
    import io

    import archsim
    pd = pytest.importorskip("pandas")
    r = archsim.run(root / "hw_configs" / "pim_gpt.yaml", root / "workloads" / "gpt2_small.yaml",
                    overrides=["generate_tokens=8"])
    kinds, ops = r.to_dataframe("kinds"), r.to_dataframe("ops")
    assert isinstance(kinds, pd.DataFrame) and list(kinds.columns)[-1] == "energy_j"
    assert kinds.energy_j.sum() == pytest.approx(r.energy_j, rel=1e-12)
    dynamic = sum(sum(sum(a.values()) for a in d["dynamic"].values())
                  for d in r.energy_breakdown_j()["devices"].values())
    assert ops.energy_j.sum() == pytest.approx(dynamic, rel=1e-9)
    for (dev, kind), ps in r.time_by_kind.items():
        sel = ops[(ops.device == dev) & (ops.kind == kind)]
        assert sel.busy_s.sum() == pytest.approx(ps * 1e-12, rel=1e-9)
        assert sel["count"].sum() == r.ops_by_kind[(dev, kind)]
    qkv = ops[ops.op == "L0.qkv_proj"]  # a GEMM in the prefill step, a GEMV in 7 decode steps
    assert dict(zip(qkv.kind, qkv["count"])) == {"gemm": 1, "gemv": 7}
    assert set(qkv.device) == {"pim"}
    rc = main(["run", str(root / "hw_configs" / "pim_gpt.yaml"),
               str(root / "workloads" / "gpt2_small.yaml"), "--set", "generate_tokens=8",
               "--format", "csv", "--table", "ops"])
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert rc == 0 and len(rows) == len(ops) and rows[0]["op"] == ops.op.iloc[0]


# ---- item 6: one price basis for the GPU presets; a partial cost names what it leaves out ----

def test_every_priced_gpu_preset_uses_the_one_price_basis():
    from archsim.config.presets import list_presets, load_preset
    priced = {}
    for name in list_presets("devices"):
        data = load_preset("devices", name).data
        cost = data.get("cost") or {}
        if data.get("kind") == "gpu" and "rental" in cost:
            assert cost["rental_source"].startswith("GPU price basis (docs/prices.md): "
                                                    "Splitwise"), name
            priced[name] = cost["rental"]
    assert priced == {"a100_80gb": "2.2 USD/h", "h100_sxm": "4.75 USD/h"}  # 17.6 / 8, 38 / 8


def test_an_unpriced_device_gives_a_partial_cost_naming_it(capsys, write, gpt2_small):
    hw = write("hw.yaml", "name: mixed\ndevices:\n  gpu0: {extends: h100_sxm}\n"
               "  attn: {extends: h20, count: 2}\nplacement:\n  default: gpu0\n  rules:\n"
               "    - {device: attn0, kinds: [attention_score, attention_context, softmax]}\n"
               "links:\n  - {src: gpu0, dst: attn0, bandwidth: \"50 GB/s\"}\n"
               "allow_unused_devices: true\n")
    rc, out, _ = _err(capsys, ["run", hw, gpt2_small, "--format", "json"])
    doc = json.loads(out)
    assert rc == 0 and doc["cost_rate_usd_per_h"] is None and doc["usd_per_mtok"] is None
    assert doc["partial_cost_rate_usd_per_h"] == 4.75
    assert doc["cost_unpriced_devices"] == ["attn0", "attn1"]
    rc, out, _ = _err(capsys, ["run", hw, gpt2_small])
    assert "partial: " in out and "for the priced devices only; no price for attn0, attn1" in out


# ---- item 13: small truths -------------------------------------------------------------------

def test_the_trace_format_example_op_is_what_the_generator_writes(root):
    import re

    import archsim
    from archsim.trace.io import op_to_dict
    text = (root / "docs" / "trace_format.md").read_text()
    block = text.split("```json", 1)[1].split("```", 1)[0]
    block = re.sub(r"//[^\n]*", "", block)            # the example carries comments
    op_text = block[block.index('{ "id": 0'):]
    depth = 0
    for i, ch in enumerate(op_text):
        depth += {"{": 1, "}": -1}.get(ch, 0)
        if depth == 0:
            break
    documented = json.loads(op_text[:i + 1])
    w = archsim.load_workload(root / "workloads" / "gpt2_small.yaml")
    assert w.prompt_tokens == documented["shape"]["rows"] == 128 and w.batch_size == 1
    assert documented == op_to_dict(archsim.generate_trace(w).steps[0].ops[0])


def test_ci_installs_the_cpu_build_of_torch_as_the_readme_says(root):
    ci = (root / ".ci" / "run").read_text()
    install = [ln for ln in ci.splitlines() if "pip install" in ln and "torch" in ln]
    assert install and all("--index-url https://download.pytorch.org/whl/cpu" in ln
                           for ln in install)
    assert "CI installs the CPU build" in (root / "README.md").read_text()


def test_the_time_left_ignores_a_slow_first_step():
    # a cold run: the prefill step compiles the kernels (12 s), the 511 decode steps take 4 ms
    # each; the old estimate (12 s per step so far) said "about 5957 s left"
    import io

    from archsim.progress import LineProgress
    now = [0.0]
    stream = io.StringIO()
    bar = LineProgress(512, "step", "run", stream, clock=lambda: now[0])
    now[0] = 12.0
    bar.update(1)
    for _ in range(511):
        now[0] += 0.004
        bar.update(1)
    lines = stream.getvalue().splitlines()
    assert lines[0] == "archsim: run: 1/512 steps (0.2%), 12 s elapsed"
