"""Log-log scatter plot of simulated against measured times (drawn by :mod:`archsim.plots`)."""
from __future__ import annotations


def scatter_plot(rep: dict, path) -> None:
    """Write a PNG/PDF/SVG (by extension) of ops by kind and steps, atomically."""
    from .. import plots
    plots.headless()
    import os
    ext = os.path.splitext(os.fspath(path))[1].lower()
    if ext not in (".png", ".pdf", ".svg"):  # before drawing anything
        from ..errors import ArchsimError
        raise ArchsimError(f"--plot {os.fspath(path)!r}: expected a .png, .pdf or .svg file")
    plots.save_figure(plots.validation_scatter_plot(rep), path, option="--plot")
