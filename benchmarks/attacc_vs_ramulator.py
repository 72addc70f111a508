"""archsim's ``attacc`` mapping against AttAcc's simulator and its published results, and speed.

GPT-3 175B decode attention, 130 heads x 128, fp16, one HBM3 stack (bank-level PIM), on the
``hbm3-attacc-npc`` (no power limit, nCCDAB 4) and ``hbm3-attacc`` (power limit, nCCDAB 6)
presets, L = 2048, 2064, 3072, 4096, against two references:

* ``sim``: AttAcc's simulator as published (github scale-snu/attacc_simulator at c600051, with
  the Ramulator 2 commit its ``set_pim_ramulator.sh`` checks out, b7c7027, and its patches),
  run on the traces of its ``gen_trace_attacc_bank.py`` with the configuration its
  ``ramulator_wrapper.py`` writes (docs/attacc.md, "Running AttAcc's simulator");
* ``pub``: its repository's ``ramulator.out`` (the first of two power-limited rows for one L),
  which the published code does not reproduce (docs/attacc.md).

Prints cycles and differences, whether every command count equals the simulator's, the slope
in L and the wall time of each simulation.

Run: ``python benchmarks/attacc_vs_ramulator.py``
"""
from __future__ import annotations

import time

from archsim.pim.attacc_mapping import simulate_attacc

#: L -> (cycles no power limit, cycles power limit, MAC_AB, SFM, MV_GB, MV_SB, WR_GB), AttAcc's
#: simulator run on its generator's traces (measured; tests/pim/test_attacc_mapping.py)
SIM = {2048: (26768, 36572, 66576, 130, 8320, 10400, 1040),
       2064: (27709, 37508, 67096, 130, 9352, 11440, 1032),
       3072: (40194, 54798, 99856, 130, 12480, 14560, 1008),
       4096: (53865, 73586, 133136, 130, 16640, 18720, 1040)}
#: L -> (cycles no power limit, cycles power limit), ramulator.out
PUB = {2048: (28176, 37593), 2064: (29422, 38682), 3072: (43610, 57282), 4096: (58935, 77969)}
KINDS = ("MACAB", "SFM", "MVGB", "MVSB", "WRGB")


def _slope(cycles: dict, key) -> float:
    return (cycles[key(4096)] - cycles[key(2048)]) / 2


def main() -> None:
    print(f"{'preset':17} {'L':>5} {'sim':>7} {'archsim':>8} {'diff':>7}  {'pub':>7} {'diff':>7}"
          f"  counts vs sim  {'wall s':>6}")
    got = {}
    for col, preset in ((0, "hbm3-attacc-npc"), (1, "hbm3-attacc")):
        for L, ref in SIM.items():
            t0 = time.perf_counter()
            r = simulate_attacc(preset, 130, 128, L)
            wall = time.perf_counter() - t0
            got[preset, L] = r.cycles
            same = tuple(r.commands.get(k, 0) for k in KINDS) == ref[2:]
            print(f"{preset:17} {L:>5} {ref[col]:>7} {r.cycles:>8} "
                  f"{100 * (r.cycles / ref[col] - 1):>+6.2f}%  {PUB[L][col]:>7} "
                  f"{100 * (r.cycles / PUB[L][col] - 1):>+6.1f}%  "
                  f"{'all equal' if same else 'DIFFER':13}  {wall:>6.2f}")
    for col, preset in ((0, "hbm3-attacc-npc"), (1, "hbm3-attacc")):
        ours = _slope(got, lambda L: (preset, L))
        sim = _slope({L: v[col] for L, v in SIM.items()}, lambda L: L)
        pub = _slope({L: v[col] for L, v in PUB.items()}, lambda L: L)
        print(f"slope per 1,024 tokens, {preset}: archsim {ours:,.0f}, sim {sim:,.0f} "
              f"({100 * (ours / sim - 1):+.1f}%), pub {pub:,.0f} ({100 * (ours / pub - 1):+.1f}%)")


if __name__ == "__main__":
    main()
