"""A cached kernel is recompiled when a module it inlines changes, not only its own file.

The DRAM controller and the PIM schedulers inline ``archsim/dram/timing.py`` into kernels that
live in other files. numba stamps a cache entry with the kernel's own source file, so an edit of
the inlined module alone used to leave the old compiled kernel in the cache: old results, in
silence. Here a small package laid out like archsim's (a kernel in ``pim/`` calling a helper in
``dram/``) is compiled, the helper is edited, and a fresh process must see the edit.
"""
import subprocess
import sys
import textwrap

RUN = textwrap.dedent("""
    import sys
    sys.path.insert(0, {root!r})
    import archsim.numba_cache as nc
    nc.PACKAGE_DIR = {pkg!r}
    nc.install()
    from fakepkg.pim.kern import kernel
    print(kernel(1))
""")


def _run(root, pkg, cache):
    env = {"NUMBA_CACHE_DIR": "", "PATH": "/usr/bin:/bin", "HOME": str(cache),
           "XDG_CACHE_HOME": str(cache)}
    out = subprocess.run([sys.executable, "-c", RUN.format(root=str(root), pkg=str(pkg))],
                         capture_output=True, text=True, env={**env, "PYTHONPATH":
                                                              ":".join(sys.path)})
    assert out.returncode == 0, out.stderr
    return int(out.stdout.split()[-1])


def test_editing_an_inlined_helper_recompiles_the_cached_kernel(tmp_path):
    pkg = tmp_path / "fakepkg"
    for d in ("", "dram", "pim"):
        (pkg / d).mkdir(exist_ok=True)
        (pkg / d / "__init__.py").write_text("")
    helper = pkg / "dram" / "timing.py"
    helper.write_text("import numba\n\n@numba.njit(cache=True)\ndef step(x):\n"
                      "    return x + 1\n")
    (pkg / "pim" / "kern.py").write_text(
        "import numba\nfrom ..dram.timing import step\n\n@numba.njit(cache=True)\n"
        "def kernel(x):\n    return step(x) * 10\n")
    cache = tmp_path / "cache"
    assert _run(tmp_path, pkg, cache) == 20
    assert _run(tmp_path, pkg, cache) == 20          # from the cache
    helper.write_text("import numba\n\n@numba.njit(cache=True)\ndef step(x):\n"
                      "    return x + 2\n")
    assert _run(tmp_path, pkg, cache) == 30
