"""Wall time of the CLI's quick commands (each a fresh interpreter), best of 5.

    python benchmarks/startup.py
"""
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
COMMANDS = (["--version"], ["list", "presets"],
            ["check", "hw_configs/gpu_a100_80gb.yaml", "workloads/llama2_7b.yaml"])


def main():
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    base = min(_time([sys.executable, "-c", "pass"], env) for _ in range(5))
    print(f"{'python -c pass':<60} {base:6.3f} s")
    for argv in COMMANDS:
        t = min(_time([sys.executable, "-m", "archsim", *argv], env) for _ in range(5))
        print(f"{'archsim ' + ' '.join(argv):<60} {t:6.3f} s")


def _time(cmd, env):
    t0 = time.perf_counter()
    subprocess.run(cmd, env=env, cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - t0


if __name__ == "__main__":
    main()
