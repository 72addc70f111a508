"""Quick commands start quickly: ``archsim --version``, ``list`` and ``check`` import neither
numba, networkx, SimPy nor matplotlib (the public API is imported on first use)."""
import json
import os
import subprocess
import sys
from pathlib import Path

import archsim

ROOT = Path(__file__).resolve().parents[1]
HEAVY = ("numba", "networkx", "simpy", "matplotlib", "scipy", "pandas", "torch")

PROBE = """
import contextlib, io, json, sys
from archsim.cli import main
for argv in {commands!r}:
    with contextlib.redirect_stdout(io.StringIO()):
        try:
            rc = main(argv)
        except SystemExit as e:
            rc = e.code
    assert rc == 0, (argv, rc)
print(json.dumps(sorted(m for m in {heavy!r} if m in sys.modules)))
"""


def test_quick_commands_do_not_import_the_simulator_stack():
    commands = [["--version"], ["list", "presets"], ["list", "models"], ["list", "devices"],
                ["check", str(ROOT / "hw_configs" / "lamina_h100_h20.yaml"),
                 str(ROOT / "hw_configs" / "pim_gpt.yaml"),
                 str(ROOT / "workloads" / "llama2_7b.yaml")]]
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    out = subprocess.run([sys.executable, "-c", PROBE.format(commands=commands, heavy=HEAVY)],
                         env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout.splitlines()[-1]) == []


def test_every_public_name_resolves():
    for name in archsim.__all__:
        assert getattr(archsim, name) is not None, name
    assert set(archsim.__all__) <= set(dir(archsim))
