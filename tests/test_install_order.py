"""The README's install order, in a fresh virtual environment: ``pip install .``, a DRAM command
(which compiles and caches numba kernels), ``pip uninstall``, then ``pip install -e .``.

numba used to cache kernels inside the installed package; ``pip uninstall`` left those
``__pycache__`` folders behind, and the leftover ``site-packages/archsim`` folder shadowed the
editable install (``ImportError: cannot import name '__version__'``). The kernels are now cached
in a per-user directory (``archsim.numba_cache``).
"""
import os
import shutil
import subprocess
import sys
import venv
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _sh(args, cwd, env):
    proc = subprocess.run([str(a) for a in args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=600)
    assert proc.returncode == 0, f"{args}: {proc.stdout}\n{proc.stderr}"
    return proc.stdout


@pytest.mark.slow
def test_install_run_dram_uninstall_then_editable_install(tmp_path):
    src = tmp_path / "src"
    for name in ("archsim", "pyproject.toml", "README.md"):
        s = ROOT / name
        if s.is_dir():
            shutil.copytree(s, src / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy(s, src / name)
    # the dependencies (numpy, numba, ...) come from this interpreter's site-packages
    venv.EnvBuilder(system_site_packages=True, with_pip=False).create(tmp_path / "venv")
    bindir = tmp_path / "venv" / ("Scripts" if os.name == "nt" else "bin")
    py = bindir / "python"
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONPATH", "NUMBA_CACHE_DIR", "VIRTUAL_ENV")}
    env["XDG_CACHE_HOME"] = str(tmp_path / "cache")  # a fresh user cache: kernels compile
    pip = [sys.executable, "-m", "pip", "--python", py, "--disable-pip-version-check", "-q"]
    flags = ["--no-deps", "--no-build-isolation"]

    _sh(pip + ["install", *flags, src], tmp_path, env)
    out = _sh([bindir / "archsim", "dram", "hbm2", "--pattern", "stream", "--requests", "200"],
              tmp_path, env)
    assert "HBM2" in out
    site = Path(_sh([py, "-c", "import archsim, os; print(os.path.dirname(archsim.__file__))"],
                    tmp_path, env).strip())
    assert not list(site.rglob("*.nbi")), "numba cached kernels inside the installed package"
    assert list((tmp_path / "cache" / "archsim" / "numba").rglob("*.nbi"))

    _sh(pip + ["uninstall", "-y", "archsim"], tmp_path, env)
    assert not site.exists(), f"pip uninstall left {site} behind"
    _sh(pip + ["install", *flags, "-e", src], tmp_path, env)
    assert _sh([bindir / "archsim", "--version"], tmp_path, env).startswith("archsim ")
