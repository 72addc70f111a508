"""Pareto fronts, the figures of archsim.plots, ``archsim plot``, and progress reports."""
import io

import numpy as np
import pandas as pd
import pytest

from archsim import plots
from archsim.cli import main
from archsim.progress import Progress


def test_pareto_front_keeps_exactly_the_points_nothing_dominates():
    df = pd.DataFrame({"hw": list("abcdef"),
                       "latency": [1.0, 2.0, 3.0, 2.0, 1.0, np.nan],
                       "energy": [5.0, 2.0, 1.0, 3.0, 5.0, 0.1],
                       "tput": [1.0, 1.0, 1.0, 1.0, 2.0, 9.0]})
    # d is dominated by b; a and e tie: neither dominates the other; f has no latency
    front = plots.pareto_front(df, {"latency": "min", "energy": "min"})
    assert list(front.hw) == ["a", "b", "c", "e"]
    # maximising throughput as well: e beats a (same latency and energy, more throughput)
    front = plots.pareto_front(df, ["latency", "energy:min", "tput:max"])
    assert list(front.hw) == ["b", "c", "e"]
    with pytest.raises(ValueError, match="'min' or 'max'"):
        plots.pareto_front(df, {"latency": "least"})
    with pytest.raises(KeyError, match="no column 'power'"):
        plots.pareto_front(df, ["power"])


def test_pareto_mask_agrees_with_brute_force_on_random_points():
    rng = np.random.default_rng(3)
    v = rng.random((200, 3))
    mask = plots.pareto_mask(v)
    for i in range(len(v)):
        dominated = any((v[j] <= v[i]).all() and (v[j] < v[i]).any() for j in range(len(v)))
        assert mask[i] == (not dominated)


def test_progress_prints_a_line_every_few_percent_off_a_terminal():
    out = io.StringIO()
    bar = Progress(100, "sweep s", stream=out, tty=False, every_percent=10).start()
    for _ in range(100):
        bar.update()
    bar.close()
    lines = out.getvalue().splitlines()
    assert len(lines) == 11 and lines[-1].startswith("sweep s 100/100 (100%)")
    assert "points/min, ETA" in lines[3]
    term = io.StringIO()
    bar = Progress(3, "compare", unit="runs", stream=term, tty=True).start()
    for _ in range(3):
        bar.update()
    bar.close()
    assert term.getvalue().startswith("\rcompare 1/3 (33%)") and "3/3 (100%)" in term.getvalue()
    assert term.getvalue().endswith("\n") and "runs/min" in term.getvalue()
    quiet = io.StringIO()
    Progress(5, "x", stream=quiet, enabled=False).start().update(5)
    assert quiet.getvalue() == ""


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    import archsim.sweep as sw
    d = tmp_path_factory.mktemp("plots")
    sweep = d / "s.yaml"
    sweep.write_text("hardware: [gpu_a100_80gb, gpu_t4]\nworkload: gpt2_small\n"
                     "set: {workload.generate_tokens: 2, workload.prompt_tokens: 8}\n"
                     "grid: {workload.batch_size: [1, 4, 16]}\n")
    path = str(d / "s.db")
    sw.run_sweep(sw.load_sweep(sweep), path, jobs=1, progress=False)
    return path


@pytest.mark.parametrize("args", [
    ["pareto"], ["tradeoff", "--y", "tokens_per_s_per_usd_per_h", "--label",
                 "workload.batch_size"], ["breakdown", "--what", "energy"]])
def test_plot_cli_writes_each_figure_of_a_store(store, tmp_path, args, capsys):
    out = tmp_path / "f.png"
    assert main(["plot", args[0], store, *args[1:], "-o", str(out)]) == 0
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_plot_cli_bad_column_and_roofline(store, tmp_path, capsys):
    assert main(["plot", "pareto", store, "--x", "nope", "-o", str(tmp_path / "f.png")]) == 2
    assert "no column 'nope'" in capsys.readouterr().err
    assert not (tmp_path / "f.png").exists()
    svg = tmp_path / "r.svg"
    assert main(["plot", "roofline", "gpu_h100_sxm", "gpt2_small", "--set",
                 "generate_tokens=2", "-o", str(svg)]) == 0
    assert "<svg" in svg.read_text()[:400]
