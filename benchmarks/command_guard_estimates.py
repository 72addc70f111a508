"""Measure the per-request costs behind archsim.command_guards, and compare the estimates.

    python benchmarks/command_guard_estimates.py

Runs ``archsim dram`` and ``archsim serve`` at two sizes each, every run in a fresh process
(peak RSS from ``resource.getrusage``, wall time around the command), and prints the slopes
(per request, per output token) next to the constants of :mod:`archsim.command_guards`.
"""
import subprocess
import sys
import time

from archsim import command_guards as cg

HW = "hw_configs/gpu_a100_80gb.yaml"
WL = "workloads/llama2_7b.yaml"
RUN = ("import resource, sys; from archsim.cli import main; rc = main(sys.argv[1:]); "
       "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, file=sys.stderr); "
       "sys.exit(rc)")


def measure(argv):
    """``(peak RSS bytes, wall s)`` of ``archsim ARGV`` in a fresh process."""
    t0 = time.perf_counter()
    p = subprocess.run([sys.executable, "-c", RUN, *argv], capture_output=True, text=True,
                       check=True)
    return int(p.stderr.strip().splitlines()[-1]) * 1024, time.perf_counter() - t0


def main():
    dram = ["dram", "hbm2", "--pattern", "random", "--read-ratio", "0.7", "--requests"]
    (m1, t1), (m2, t2) = measure(dram + ["2000000"]), measure(dram + ["4000000"])
    print(f"dram: {(m2 - m1) / 2e6:.0f} B/request (constant {cg.DRAM_BYTES_PER_REQUEST}), "
          f"{2e6 / (t2 - t1):.3g} requests/s (constant {cg.DRAM_REQUESTS_PER_S:.3g})")
    serve = ["serve", HW, WL, "--arrivals", "poisson:20", "--prompt-tokens", "uniform:64:512"]
    slopes = {}
    for out in (16, 256):
        (m1, t1), (m2, t2) = (measure(serve + ["--output-tokens", str(out), "--requests", n])
                              for n in ("2000", "10000"))
        slopes[out] = ((m2 - m1) / 8000, (t2 - t1) / 8000)
    # per request a, per output token b: slope(T) = a + T b
    b_mem = (slopes[256][0] - slopes[16][0]) / 240
    b_s = (slopes[256][1] - slopes[16][1]) / 240
    print(f"serve: {slopes[16][0] - 16 * b_mem:.0f} B/request + {b_mem:.0f} B/output token "
          f"(constants {cg.SERVE_BYTES_PER_REQUEST}, {cg.SERVE_BYTES_PER_OUTPUT_TOKEN}); "
          f"{(slopes[16][1] - 16 * b_s) * 1e3:.2f} ms/request + {b_s * 1e6:.2f} us/output token "
          f"(constants {cg.SERVE_S_PER_REQUEST * 1e3:.2f}, {cg.SERVE_S_PER_OUTPUT_TOKEN * 1e6:.2f})")


if __name__ == "__main__":
    main()
