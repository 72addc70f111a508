"""Log-log scatter plot of simulated against measured times."""
from __future__ import annotations

import os

from ..errors import ArchsimError
from ..fsutil import atomic_path


def scatter_plot(rep: dict, path) -> None:
    """Write a PNG/PDF/SVG (by extension) of ops by kind and steps, atomically."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    path = os.fspath(path)
    ext = os.path.splitext(path)[1].lower()
    if ext not in (".png", ".pdf", ".svg"):
        raise ArchsimError(f"--plot {path!r}: expected a .png, .pdf or .svg file")
    pairs = rep["_pairs"]
    fig, ax = plt.subplots(figsize=(6.4, 6.0))
    kinds = sorted({r[4] for r in pairs["ops"]})
    for k in kinds:
        xs = [r[7] for r in pairs["ops"] if r[4] == k]
        ys = [r[6] for r in pairs["ops"] if r[4] == k]
        ax.scatter(xs, ys, s=6, alpha=0.5, label=f"op: {k}")
    if pairs["steps"]:
        ax.scatter([r[5] for r in pairs["steps"]], [r[4] for r in pairs["steps"]], s=18,
                   marker="x", color="black", label="step")
    vals = [v for r in pairs["ops"] for v in (r[6], r[7])] + \
           [v for r in pairs["steps"] for v in (r[4], r[5])]
    vals = [v for v in vals if v > 0]
    if vals:
        lo, hi = min(vals) / 2, max(vals) * 2
        ax.plot([lo, hi], [lo, hi], color="grey", lw=0.8, ls="--", label="simulated = measured")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("measured time (ns)")
    ax.set_ylabel("simulated time (ns)")
    mape = rep.get("op_mape")
    smape = rep.get("step_mape")
    title = rep["hardware"]
    if mape is not None:
        title += f": op MAPE {mape:.1f}%"
    if smape is not None:
        title += f", step MAPE {smape:.1f}%"
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=6, markerscale=2)
    fig.tight_layout()
    try:
        with atomic_path(path, ext) as tmp:
            fig.savefig(tmp)
    finally:
        plt.close(fig)
