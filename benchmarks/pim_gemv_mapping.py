"""PIM-GPT's GEMV shapes under each GEMV mapping: cycles, MAC-rate utilisation and counts.

For the weight GEMVs of GPT-2 small, GPT-2 XL and GPT-3 XL (QKV, attention output, FFN up and
down, LM head; rows = output length, cols = reduction length) on ``pim_gpt_gddr6`` (8 channels),
each of four layouts of the ``mapping`` section (:func:`archsim.pim.gemv.gemv_stream`):

* ``before``: one result register, no accumulation (the stream before these keys existed);
* ``R=32``: 32 row groups MAC into their own registers, read back to back (CENT's reuse-GB);
* ``acc R=1``: results accumulated across DRAM rows with one register (buffer re-written for
  every group and segment);
* ``preset``: the shipped preset's mapping section.

Utilisation is the achieved MAC rate over the peak of the 8 channels' 128 units.

Run: ``python benchmarks/pim_gemv_mapping.py``
"""
from __future__ import annotations

import dataclasses

from archsim.pim import load_pim, simulate_gemv
from archsim.pim.spec import PimMapping, PimSpec

SHAPES = {"gpt2_small": 768, "gpt2_xl": 1600, "gpt3_xl": 2048}


def variant(spec: PimSpec, **keys) -> PimSpec:
    """``spec`` with its mapping section replaced by ``keys`` (none: no mapping section)."""
    m = PimMapping(source="benchmark variant", **keys) if keys else None
    return PimSpec(dataclasses.replace(spec.config, mapping=m), spec.dram)


def main() -> int:
    preset = load_pim("pim_gpt_gddr6")
    layouts = {"before": variant(preset), "R=32": variant(preset, result_registers=32),
               "acc R=1": variant(preset, accumulate_across_rows=True), "preset": preset}
    print(f"preset mapping: {preset.config.mapping}")
    print(f"{'model':<11} {'rows x cols':>13} " + " ".join(f"{k + ' cyc':>12} {'util':>6}"
                                                           for k in layouts)
          + f" {'RDMAC before/preset':>20} {'WRGB before/preset':>19}")
    for model, d in SHAPES.items():
        for rows, cols in ((3 * d, d), (d, d), (4 * d, d), (d, 4 * d), (50257, d)):
            res = {k: simulate_gemv(s, rows, cols, memo=False) for k, s in layouts.items()}
            b, p = res["before"].commands, res["preset"].commands
            print(f"{model:<11} {f'{rows} x {cols}':>13} "
                  + " ".join(f"{r.cycles:>12} {r.utilization:>6.1%}" for r in res.values())
                  + " {:>20} {:>19}".format(f"{b['RDMAC']} / {p['RDMAC']}",
                                            f"{b['WRGB']} / {p['WRGB']}"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
