"""Error statistics of simulated against measured values."""
from __future__ import annotations

import numpy as np


def error_stats(sim, meas) -> dict:
    """Relative error statistics of ``sim`` against ``meas`` (both positive).

    ``mape``, ``max_error`` and ``bias`` are percentages: the mean of ``|sim - meas| / meas``,
    its maximum, and the mean of the signed ``(sim - meas) / meas`` (positive: the model is
    slow). ``rms_log_error`` is the root mean square of ``ln(sim / meas)``, symmetric in over-
    and under-prediction (MAPE is not: predicting 0 scores 100%, predicting 3x scores 200%).
    ``pearson`` is the correlation of the values, ``pearson_log`` of their logarithms
    (``None`` with fewer than two points or no spread).
    """
    sim = np.asarray(sim, dtype=float)
    meas = np.asarray(meas, dtype=float)
    n = int(sim.size)
    if n == 0:
        return {"count": 0, "mape": None, "max_error": None, "bias": None, "pearson": None,
                "rms_log_error": None,
                "pearson_log": None, "measured_ns": 0.0, "simulated_ns": 0.0}
    rel = (sim - meas) / meas
    return {"count": n, "mape": float(np.mean(np.abs(rel)) * 100),
            "max_error": float(np.max(np.abs(rel)) * 100), "bias": float(np.mean(rel) * 100),
            "rms_log_error": float(np.sqrt(np.mean(np.log(sim / meas) ** 2))),
            "pearson": _pearson(sim, meas), "pearson_log": _pearson(np.log(sim), np.log(meas)),
            "measured_ns": float(meas.sum()), "simulated_ns": float(sim.sum())}


def _pearson(a, b):
    if a.size < 2 or np.std(a) == 0 or np.std(b) == 0:
        return None
    return float(np.corrcoef(a, b)[0, 1])
