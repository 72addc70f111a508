"""Every shipped notebook runs top to bottom in a real Jupyter kernel (nbclient), started in an
empty directory outside the checkout, so a notebook that finds its files relative to the
working directory or to the package's location fails here."""
import os
from pathlib import Path

import pytest

import archsim

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("*.ipynb"))


@pytest.mark.slow  # a kernel start and a sweep each: 10-25 s; CI runs them (ARCHSIM_SLOW=1)
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_runs_from_outside_the_checkout(path, tmp_path, monkeypatch):
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    pytest.importorskip("ipykernel")
    # the kernel imports the archsim under test (a plain install imports the installed one)
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(
        [str(Path(archsim.__file__).resolve().parents[1])]
        + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]))
    monkeypatch.setenv("MPLBACKEND", "Agg")
    run_dir = tmp_path / "elsewhere"
    run_dir.mkdir()
    monkeypatch.chdir(run_dir)
    nb = nbformat.read(path, as_version=4)
    client = nbclient.NotebookClient(nb, timeout=600, kernel_name="python3",
                                     resources={"metadata": {"path": str(run_dir)}})
    client.execute()  # raises CellExecutionError on any error
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", ())
              if o.get("output_type") == "error"]
    assert not errors
    assert list(run_dir.iterdir()) == [], "a notebook wrote into its working directory"
