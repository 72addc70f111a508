"""archsim's ``attacc`` mapping against AttAcc's own Ramulator 2 results, and its speed.

GPT-3 175B decode attention, 130 heads x 128, fp16, one HBM3 stack (bank-level PIM), on the
``hbm3-attacc-npc`` (no power limit, nCCDAB 4) and ``hbm3-attacc`` (power limit, nCCDAB 6)
presets, L = 2048, 2064, 3072, 4096. AttAcc's figures are its repository's ``ramulator.out``
(github scale-snu/attacc_simulator, commit c600051; columns cycle, mac, mvsb, wrgb); where it
has two power-limited rows for one L, the first is used. Prints cycles, the difference, the
commands AttAcc reports, the slope in L and the wall time of each simulation.

Run: ``python benchmarks/attacc_vs_ramulator.py``
"""
from __future__ import annotations

import time

from archsim.pim.attacc_mapping import simulate_attacc

#: L -> (cycles no power limit, cycles power limit, MAC_AB, MV_SB, WR_GB), ramulator.out
ATTACC = {2048: (28176, 37593, 66576, 10400, 1040), 2064: (29422, 38682, 67096, 11440, 1032),
          3072: (43610, 57282, 99856, 14560, 1008), 4096: (58935, 77969, 133136, 18720, 1040)}


def main() -> None:
    print(f"{'preset':17} {'L':>5} {'AttAcc':>8} {'archsim':>8} {'diff':>7}  "
          f"{'MACAB':>7} {'MVSB':>6} {'WRGB':>5}  counts  {'wall s':>6}")
    got = {}
    for col, preset in ((0, "hbm3-attacc-npc"), (1, "hbm3-attacc")):
        for L, ref in ATTACC.items():
            t0 = time.perf_counter()
            r = simulate_attacc(preset, 130, 128, L)
            wall = time.perf_counter() - t0
            got[preset, L] = r.cycles
            c = r.commands
            same = (c["MACAB"], c["MVSB"], c["WRGB"]) == ref[2:]
            print(f"{preset:17} {L:>5} {ref[col]:>8} {r.cycles:>8} "
                  f"{100 * (r.cycles / ref[col] - 1):>+6.1f}%  {c['MACAB']:>7} {c['MVSB']:>6} "
                  f"{c['WRGB']:>5}  {'equal' if same else 'DIFFER'}  {wall:>6.2f}")
    for col, preset in ((0, "hbm3-attacc-npc"), (1, "hbm3-attacc")):
        ours = (got[preset, 4096] - got[preset, 2048]) / 2
        theirs = (ATTACC[4096][col] - ATTACC[2048][col]) / 2
        print(f"slope per 1,024 tokens, {preset}: archsim {ours:,.0f}, AttAcc {theirs:,.0f} "
              f"({100 * (ours / theirs - 1):+.1f}%)")


if __name__ == "__main__":
    main()
