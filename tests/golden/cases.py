"""The CLI invocations whose outputs are recorded in ``outputs.json.gz``.

``python tests/golden/record.py`` runs them and writes the recording; the test
``tests/test_outputs_unchanged.py`` runs them again and compares. Each case is an argument list
for ``archsim``; JSON outputs are compared value by value (keys added later are allowed, keys
removed or values changed are not), text outputs line by line. Fields that measure the
simulator's own wall time are dropped before comparing.
"""
from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
HW = ROOT / "hw_configs"
WL = ROOT / "workloads"

#: keys whose values are measurements of the simulator itself, not results
#: placeholder for the timeline file a case writes (replaced by a temporary path)
TIMELINE = "{timeline}"

VOLATILE = {"simulator_wall_s", "wall_s", "requests_per_s", "elapsed_s", "sim_wall_s"}


def cases() -> list:
    out = []
    gpus = ["gpu_a100_80gb", "gpu_h100_sxm", "gpu_t4", "cpu_xeon_gold_6154"]
    for hw in gpus:
        for wl in ("gpt2_small", "llama2_7b"):
            out.append(["run", f"{HW}/{hw}.yaml", f"{WL}/{wl}.yaml", "--format", "json"])
    out.append(["run", f"{HW}/gpu_a100_80gb.yaml", f"{WL}/gpt2_small.yaml", "--format", "csv"])
    out.append(["run", f"{HW}/gpu_h100_sxm.yaml", f"{WL}/llama2_7b.yaml", "--format", "table",
                "--set", "batch_size=8"])
    for wl in ("gpt2_small", "gpt2_medium", "gpt3_xl"):
        out.append(["run", f"{HW}/pim_gpt.yaml", f"{WL}/pim_gpt/{wl}.yaml", "--format", "json"])
    out.append(["run", f"{HW}/pim_gpt.yaml", f"{WL}/pim_gpt/gpt2_small.yaml", "--format",
                "table"])
    out.append(["compare", f"{HW}/pim_gpt.yaml", f"{WL}/pim_gpt/gpt2_small.yaml",
                f"{WL}/pim_gpt/gpt2_medium.yaml", "--baseline", f"{HW}/gpu_t4.yaml",
                "--baseline", f"{HW}/cpu_xeon_gold_6154.yaml", "--json"])
    out.append(["compare", f"{HW}/pim_gpt.yaml", f"{WL}/pim_gpt/gpt2_small.yaml",
                "--baseline", f"{HW}/gpu_t4.yaml", "--breakdown"])
    for std in ("hbm2", "hbm3", "gddr6", "lpddr5"):
        for pattern in ("stream", "random"):
            out.append(["dram", std, "--pattern", pattern, "--requests", "20000", "--json"])
    out.append(["dram", "gddr6", "--pattern", "random", "--requests", "5000",
                "--read-ratio", "0.67", "--json"])
    for pim, rows, cols in (("gddr6-aim", 4096, 4096), ("gddr6-aim", 1000, 333),
                            ("hbm3-attacc", 2048, 128),
                            ("hbm3-attacc-npc", 4096, 128), ("pim_gpt_gddr6", 1600, 6400)):
        out.append(["pim-gemv", pim, "--rows", str(rows), "--cols", str(cols), "--json"])
    out.append(["pim-gemv", "gddr6-aim", "--rows", "512", "--cols", "4096", "--channels", "2",
                "--json"])
    for std in ("hbm3-5.2", "gddr6-aim"):
        out.append(["dram", std, "--pattern", "random", "--requests", "5000", "--json"])
    # simulated timelines (Chrome-trace JSON) of a single-device and a PIM + host design point
    out.append(["run", f"{HW}/pim_gpt.yaml", f"{WL}/pim_gpt/gpt2_small.yaml", "--set",
                "generate_tokens=3", "--set", "prompt_tokens=4", "--format", "json",
                "--timeline", TIMELINE])
    out.append(["run", f"{HW}/gpu_t4.yaml", f"{WL}/gpt2_small.yaml", "--set",
                "generate_tokens=2", "--format", "json", "--timeline", TIMELINE])
    return out


def key(args) -> str:
    """A case's name in the recording: its arguments with the checkout's path removed."""
    return " ".join(str(a).replace(str(ROOT) + "/", "") for a in args)


def run_case(args):
    """Run ``archsim ARGS`` in this process; returns parsed JSON or the text, or raises."""
    import tempfile

    from archsim.cli import main
    buf = io.StringIO()
    with tempfile.TemporaryDirectory() as tmp:
        tl = str(Path(tmp) / "timeline.json")
        with contextlib.redirect_stdout(buf):
            code = main([tl if a == TIMELINE else str(a) for a in args])
        if code:
            raise RuntimeError(f"archsim {key(args)} exited {code}")
        if TIMELINE in args:
            with open(tl, encoding="utf-8") as fh:
                return {"stdout": strip(json.loads(buf.getvalue())),
                        "timeline": strip(json.load(fh))}
    text = buf.getvalue()
    if "--json" in args or ("--format" in args and args[args.index("--format") + 1] == "json"):
        return strip(json.loads(text))
    return text


def strip(v):
    if isinstance(v, dict):
        return {k: strip(x) for k, x in v.items() if k not in VOLATILE}
    if isinstance(v, list):
        return [strip(x) for x in v]
    return v


def diff(recorded, now, path="") -> list:
    """Differences between a recorded output and today's: missing keys and changed values."""
    if isinstance(recorded, dict):
        if not isinstance(now, dict):
            return [f"{path}: was a mapping, now {type(now).__name__}"]
        out = []
        for k, v in recorded.items():
            if k not in now:
                out.append(f"{path}.{k}: missing")
            else:
                out += diff(v, now[k], f"{path}.{k}")
        return out
    if isinstance(recorded, list):
        if not isinstance(now, list) or len(now) != len(recorded):
            return [f"{path}: list changed length or type"]
        out = []
        for i, (a, b) in enumerate(zip(recorded, now)):
            out += diff(a, b, f"{path}[{i}]")
        return out
    if isinstance(recorded, str) and isinstance(now, str) and "\n" in recorded:
        a, b = recorded.splitlines(), now.splitlines()
        bad = [f"{path} line {i + 1}: {x!r} -> {y!r}" for i, (x, y) in enumerate(zip(a, b))
               if x != y]
        if len(a) != len(b):
            bad.append(f"{path}: {len(a)} lines -> {len(b)} lines")
        return bad
    if recorded != now:
        return [f"{path}: {recorded!r} -> {now!r}"]
    return []
