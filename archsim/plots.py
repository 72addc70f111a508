"""Analysis and figures of sweeps and runs: Pareto fronts, trade-off curves, breakdowns, roofline,
and the validation scatter. The only module of archsim that imports matplotlib.

:func:`pareto_front` is plain numpy/pandas; the plotting functions import matplotlib when
called and return the :class:`matplotlib.figure.Figure`, so they work headless (Agg) and in
notebooks. A Pareto front keeps the points no other point dominates: at least as good in every
objective and strictly better in one (minimise or maximise per column).
"""
from __future__ import annotations

import os

import numpy as np

#: op kinds drawn as attention in breakdowns (the rest is dense, or collective)
_KIND_CLASS = {"attention_score": "attention", "attention_context": "attention",
               "softmax": "attention", "collective": "collective"}


def _objectives(objectives) -> dict:
    if isinstance(objectives, dict):
        out = dict(objectives)
    else:
        out = {}
        for o in objectives:
            col, _, sense = str(o).partition(":")
            out[col] = sense or "min"
    for col, sense in out.items():
        if sense not in ("min", "max"):
            raise ValueError(f"objective {col!r}: expected 'min' or 'max', got {sense!r}")
    return out


def pareto_mask(values: np.ndarray) -> np.ndarray:
    """``True`` for the rows of ``values`` (to be minimised in every column) that no other row
    dominates; rows with a NaN are never on the front."""
    v = np.asarray(values, dtype=float)
    ok = ~np.isnan(v).any(axis=1)
    mask = np.zeros(len(v), dtype=bool)
    idx = np.flatnonzero(ok)
    pts = v[idx]
    for j, i in enumerate(idx):
        le = (pts <= pts[j]).all(axis=1)
        lt = (pts < pts[j]).any(axis=1)
        mask[i] = not (le & lt).any()
    return mask


def pareto_front(df, objectives):
    """The rows of ``df`` on the Pareto front of ``objectives``.

    Parameters
    ----------
    df : pandas.DataFrame
        E.g. :func:`archsim.sweep.load` (failed points have NaN metrics and are left out).
    objectives : dict or sequence
        ``{"tpot_mean_s": "min", "tokens_per_s_per_usd_per_h": "max"}``, or
        ``["tpot_mean_s:min", "energy_per_token_j"]`` (``min`` by default).
    """
    obj = _objectives(objectives)
    missing = [c for c in obj if c not in df.columns]
    if missing:
        raise KeyError(f"no column {missing[0]!r}; columns are {', '.join(df.columns)}")
    signs = np.array([1.0 if s == "min" else -1.0 for s in obj.values()])
    vals = df[list(obj)].apply(lambda c: c.astype(float)).to_numpy() * signs
    return df[pareto_mask(vals)]


def _ax(ax, figsize=(6, 4)):
    import matplotlib.pyplot as plt
    if ax is not None:
        return ax.figure, ax
    fig, ax = plt.subplots(figsize=figsize)
    return fig, ax


def _finish(fig, ax, x: str, y: str, logx: bool, logy: bool):
    """Axis labels, log scales and legend of a trade-off or Pareto figure."""
    ax.set_xlabel(x)
    ax.set_ylabel(y)
    if logx:
        ax.set_xscale("log")
    if logy:
        ax.set_yscale("log")
    ax.legend(fontsize=8)
    return fig


def tradeoff_plot(df, x: str, y: str, *, group: str = "hardware", label: str | None = None,
                  ax=None, logx: bool = False, logy: bool = False):
    """Trade-off curves: ``y`` against ``x``, one line per value of ``group`` (in the order of
    ``x``), each point annotated with its ``label`` column (e.g. the batch size)."""
    fig, ax = _ax(ax)
    ok = df.dropna(subset=[x, y])
    for name, g in ok.groupby(group, sort=False):
        g = g.sort_values(x)
        ax.plot(g[x], g[y], marker="o", label=str(name))
        if label:
            for _, r in g.iterrows():
                ax.annotate(str(r[label]), (r[x], r[y]), fontsize=7, xytext=(3, 3),
                            textcoords="offset points")
    return _finish(fig, ax, x, y, logx, logy)


def pareto_plot(df, x: str, y: str, *, objectives=None, group: str = "hardware", ax=None,
                logx: bool = False, logy: bool = False):
    """Every point of ``df`` (dominated ones faded) and the Pareto front of ``x`` and ``y``
    (both minimised unless ``objectives`` says otherwise) as a step line."""
    obj = _objectives(objectives or {x: "min", y: "min"})
    fig, ax = _ax(ax)
    ok = df.dropna(subset=[x, y])
    front = pareto_front(ok, obj)
    on = ok.index.isin(front.index)
    for i, (name, g) in enumerate(ok.groupby(group, sort=False)):
        m = on[ok.index.get_indexer(g.index)]
        ax.scatter(g[x][~m], g[y][~m], alpha=0.2, s=18, color=f"C{i}")
        ax.scatter(g[x][m], g[y][m], s=30, color=f"C{i}", label=str(name))
    f = front.sort_values(x)
    ax.step(f[x], f[y], where="post", color="black", linewidth=1, label="Pareto front")
    return _finish(fig, ax, x, y, logx, logy)


def breakdown_plot(df, *, what: str = "time", label: str = "hardware", ax=None):
    """Stacked bars per row of ``df`` (a sweep store's rows): time per token by op class
    (``what="time"``, ms) or energy per token by device and action (``"energy"``, mJ), from
    the ``breakdown`` column."""
    import json
    fig, ax = _ax(ax, figsize=(max(4, 0.5 * len(df) + 2), 4))
    key = {"time": "time_ms_per_token", "energy": "energy_mj_per_token"}[what]
    ok = df[df["breakdown"].notna()]
    stacks = []
    for b in ok["breakdown"]:
        parts: dict = {}
        for dev, items in json.loads(b)[key].items():
            for k, v in items.items():
                name = _KIND_CLASS.get(k, "dense") if what == "time" else f"{dev} {k}"
                parts[name] = parts.get(name, 0.0) + v
        stacks.append(parts)
    names = sorted({k for s in stacks for k in s})
    bottom = np.zeros(len(stacks))
    xs = np.arange(len(stacks))
    for n in names:
        h = np.array([s.get(n, 0.0) for s in stacks])
        ax.bar(xs, h, bottom=bottom, label=n)
        bottom += h
    ax.set_xticks(xs, [str(v) for v in ok[label]], rotation=45, ha="right", fontsize=7)
    ax.set_ylabel("ms per token" if what == "time" else "mJ per token")
    ax.legend(fontsize=7)
    fig.tight_layout()
    return fig


def roofline_plot(result, *, device: str | None = None, ax=None):
    """A roofline of a run's ops on one device (Williams, Waterman and Patterson, CACM 52(4),
    2009): achieved FLOP/s against arithmetic intensity (FLOPs per byte read and written), one
    point per op, under the device's bandwidth roof and its tensor-core peaks when the device
    has them (GPU and CPU roofline devices). ``result`` must come from a run with
    ``timeline=True``."""
    from .units import parse_quantity
    if not result.timeline:
        raise ValueError("roofline_plot needs a run with timeline=True (every op's time)")
    devices = result.system.devices
    device = device or next(iter(devices))
    if device not in devices:
        raise ValueError(f"no device {device!r}; devices are {', '.join(devices)}")
    fig, ax = _ax(ax)
    pts: dict = {}
    for _si, _step, _t0, recs, _transfers in result.timeline:
        for r in recs:
            op = r.op
            nbytes = op.bytes_read + op.bytes_written
            if r.device != device or not op.flops or nbytes <= 0 or r.end_ps <= r.start_ps:
                continue
            pts.setdefault(op.kind.value, []).append(
                (op.flops / nbytes, op.flops / ((r.end_ps - r.start_ps) * 1e-12)))
    lo, hi = 1e-2, 1e4
    for kind, p in sorted(pts.items()):
        a = np.array(p)
        lo, hi = min(lo, a[:, 0].min()), max(hi, a[:, 0].max())
        ax.scatter(a[:, 0], a[:, 1], s=10, alpha=0.6, label=kind)
    cfg = devices[device].config
    bw = getattr(cfg, "memory_bandwidth_bytes_per_s", None)
    xs = np.logspace(np.log10(lo), np.log10(hi), 200)
    for dtype, peak in (getattr(cfg, "tensor_peak", None) or {}).items():
        flops = parse_quantity(peak, "compute")
        ax.plot(xs, np.minimum(flops, bw * xs) if bw else np.full_like(xs, flops),
                linewidth=1, label=f"roof {dtype} {peak}")
    if bw and not getattr(cfg, "tensor_peak", None):
        ax.plot(xs, bw * xs, linewidth=1, label="bandwidth roof")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("arithmetic intensity (FLOP per byte read + written)")
    ax.set_ylabel("achieved FLOP/s")
    ax.set_title(f"{result.hw.name}: {device}")
    ax.legend(fontsize=7)
    return fig


def headless() -> None:
    """Draw without a display (the Agg backend), for the command line."""
    import matplotlib
    matplotlib.use("Agg")


def save_figure(fig, path, *, option: str = "-o") -> None:
    """Write ``fig`` to ``path`` (``.png``, ``.pdf`` or ``.svg``) atomically and close it; a
    bad extension is an :class:`~archsim.errors.ArchsimError` naming ``option``."""
    import matplotlib.pyplot as plt

    from .errors import ArchsimError
    from .fsutil import atomic_path
    path = os.fspath(path)
    ext = os.path.splitext(path)[1].lower()
    if ext not in (".png", ".pdf", ".svg"):
        plt.close(fig)
        raise ArchsimError(f"{option} {path!r}: expected a .png, .pdf or .svg file")
    try:
        with atomic_path(path, ext) as tmp:
            fig.savefig(tmp, dpi=120, bbox_inches="tight")
    finally:
        plt.close(fig)


def validation_scatter_plot(rep: dict, ax=None):
    """Log-log scatter of simulated against measured times of a validation report
    (:func:`archsim.validate`): ops by kind, steps, and the ``simulated = measured`` line."""
    fig, ax = _ax(ax, figsize=(6.4, 6.0))
    pairs = rep["_pairs"]
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
    return fig


__all__ = ["pareto_front", "pareto_mask", "tradeoff_plot", "pareto_plot", "breakdown_plot",
           "roofline_plot", "validation_scatter_plot", "save_figure", "headless"]
