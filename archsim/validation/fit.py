"""The fitting of ``archsim calibrate`` (:mod:`.calibrate` has the method and the refusal
rules): efficiencies by a coarse-to-fine grid search on the log error, per-kind kernel floors,
and the launch overhead of one device from its op and step samples."""
from __future__ import annotations

import numpy as np

from ..devices.gpu import Gpu
from ..errors import ArchsimError

GRID_MIN = 1e-4


def _loss_grid(tm, tc, lfl, logm, w, be, ce):
    """Weighted squared log error for every (be, ce) pair of the grids (vectorized)."""
    lt_m = np.log(tm)[None, None, :] - np.log(be)[:, None, None]
    lt_c = np.log(np.maximum(tc, 1e-30))[None, None, :] - np.log(ce)[None, :, None]
    pred = np.maximum(np.maximum(lt_m, lt_c), lfl[None, None, :])
    return ((pred - logm[None, None, :]) ** 2 * w).sum(axis=-1)


def fit_efficiencies(tm, tc, meas, floor=None, *, levels: int = 4) -> dict:
    """Least-squares (log) fit of ``be, ce`` to kernel times ``meas`` (all arrays, seconds);
    ``floor`` (optional array): each op's least kernel time, not fitted.

    Returns ``{"be", "ce", "loss", "be_identified", "ce_identified", "rms_log_error"}``.
    """
    tm, tc, meas = (np.asarray(a, float) for a in (tm, tc, meas))
    fl = np.zeros_like(tm) if floor is None else np.asarray(floor, float)
    # identical ops (decode steps repeat them) collapse into one weighted point
    keys, inv = np.unique(np.stack([tm, tc, fl]), axis=1, return_inverse=True)
    inv = inv.ravel()
    w = np.bincount(inv).astype(float)
    logm = np.bincount(inv, weights=np.log(meas)) / w
    utm, utc, ufl = keys[0], keys[1], keys[2]
    lfl = np.log(np.maximum(ufl, 1e-300))
    lo_b, hi_b = np.log(GRID_MIN), 0.0
    lo_c, hi_c = lo_b, 0.0
    n = 61
    best = None
    for _ in range(levels):
        gb = np.exp(np.linspace(lo_b, hi_b, n))
        gc = np.exp(np.linspace(lo_c, hi_c, n))
        L = _loss_grid(utm, utc, lfl, logm, w, gb, gc)
        i, j = np.unravel_index(np.argmin(L), L.shape)
        # prefer the largest ce (or be) with the same loss: a flat direction stays at the peak
        ties = np.flatnonzero(L[i] <= L[i, j] * (1 + 1e-12) + 1e-300)
        j = ties.max()
        best = (gb[i], gc[j], L[i, j])
        sb = (hi_b - lo_b) / (n - 1) * 2
        sc = (hi_c - lo_c) / (n - 1) * 2
        lo_b, hi_b = max(np.log(gb[i]) - sb, np.log(GRID_MIN)), min(np.log(gb[i]) + sb, 0.0)
        lo_c, hi_c = max(np.log(gc[j]) - sc, np.log(GRID_MIN)), min(np.log(gc[j]) + sc, 0.0)
    be, ce, loss = best
    mem_bound = utm / be >= utc / ce
    above = np.maximum(utm / be, utc / ce) > ufl   # not held at the floor
    return {"be": float(be), "ce": float(ce), "loss": float(loss),
            "be_identified": bool((mem_bound & above).any()),
            "ce_identified": bool((~mem_bound & above).any()),
            "rms_log_error": float(np.sqrt(loss / w.sum()))}


FLOOR_GAIN = 0.10
_FLOOR_GRID = 33


def fit_floor(tm, tc, meas, floor0: float) -> tuple:
    """Joint fit of ``be, ce`` and one kernel floor for the ops of one kind.

    The floor is searched on a log grid from 1/100 of the shortest measured time to the longest
    (then refined around the best point), each candidate with its own ``be, ce`` fit. Returns
    ``(fit, floor, identified, at_bound)``: the floor is *identified* when it differs from
    ``floor0`` and lowers the loss by :data:`FLOOR_GAIN` or more (a floor below every op, or a
    marginal gain on noise, keeps ``floor0``); *at a bound* when it is the longest measured time
    (every op held at the floor: the data do not show where the roofline starts).
    """
    tm, tc, meas = (np.asarray(a, float) for a in (tm, tc, meas))
    base = fit_efficiencies(tm, tc, meas, np.full_like(tm, floor0))
    lo, hi = np.log(max(meas.min() / 100, 1e-12)), np.log(meas.max())
    best_fit, best_f = base, floor0
    grid = np.exp(np.linspace(lo, hi, _FLOOR_GRID))
    step = (hi - lo) / (_FLOOR_GRID - 1)
    for cands in (grid, None):
        if cands is None:   # refine around the best grid point
            if best_f == floor0:
                break
            c = np.log(best_f)
            cands = np.exp(np.linspace(max(c - step, lo), min(c + step, hi), 17))
        for f in cands:
            r = fit_efficiencies(tm, tc, meas, np.full_like(tm, f), levels=3)
            if r["loss"] < best_fit["loss"]:
                best_fit, best_f = r, float(f)
    if best_f == floor0 or best_fit["loss"] > base["loss"] * (1 - FLOOR_GAIN):
        return base, floor0, False, False
    return best_fit, best_f, True, bool(best_f >= meas.max() * (1 - 1e-9))


def fit_device(dev: Gpu, op_samples, step_samples, *, fit_floors: bool = True) -> dict:
    """Calibrated roofline parameters (and, with ``fit_floors``, per-kind kernel floors) of one
    device from its op and step samples."""
    if not op_samples:
        raise ArchsimError(f"no measured ops on device {dev.name!r} to calibrate from")
    kinds = np.array([s[0].value for s in op_samples])
    tm = np.array([s[1] for s in op_samples])
    tc = np.array([s[2] for s in op_samples])
    meas = np.array([s[3] for s in op_samples])
    fl = np.array([s[4] for s in op_samples])
    kind_fits, floors = {}, {}
    for k in sorted(set(kinds.tolist())):
        sel = kinds == k
        if fit_floors:
            f, floor, ident, at_bound = fit_floor(tm[sel], tc[sel], meas[sel], float(fl[sel][0]))
            if ident:
                floors[k] = (floor, at_bound)
                fl[sel] = floor
        else:
            f = fit_efficiencies(tm[sel], tc[sel], meas[sel], fl[sel])
        kind_fits[k] = f
    g = fit_efficiencies(tm, tc, meas, fl)
    out = {"global": g, "per_kind": {}}
    for k in sorted(set(kinds.tolist())):
        sel = kinds == k
        f = kind_fits[k]
        entry = {"count": int(sel.sum()), "fit": f,
                 "floor": floors[k][0] if k in floors else None,
                 "floor_at_bound": k in floors and floors[k][1]}
        for p, ident in (("be", "be_identified"), ("ce", "ce_identified")):
            if f[ident]:
                entry[p] = f[p]
            else:  # not bound anywhere: inherit the global value if predictions do not change
                trial = dict(be=f["be"], ce=f["ce"])
                trial[p] = g[p]
                same = np.allclose(
                    np.maximum(fl[sel], np.maximum(tm[sel] / trial["be"], tc[sel] / trial["ce"])),
                    np.maximum(fl[sel], np.maximum(tm[sel] / f["be"], tc[sel] / f["ce"])),
                    rtol=1e-9)
                entry[p] = None if same else f[p]
        out["per_kind"][k] = entry

    def eff(kind):
        e = out["per_kind"].get(kind.value)
        be = e["be"] if e and e["be"] is not None else g["be"]
        ce = e["ce"] if e and e["ce"] is not None else g["ce"]
        return be, ce

    resid, counts = [], []
    for lst, wall in step_samples:
        kern = sum(max(floors[k.value][0] if k.value in floors else f, a / eff(k)[0],
                       b / eff(k)[1]) for k, a, b, f in lst)
        resid.append(wall - kern)
        counts.append(len(lst))
    if resid:
        r, c = np.array(resid), np.array(counts, float)
        lo = float((r * c).sum() / (c * c).sum())
        out["launch_overhead_s"] = max(0.0, lo)
        out["launch_overhead_clipped"] = lo < 0
    else:
        out["launch_overhead_s"] = None  # no step times: keep the device's value
    return out
