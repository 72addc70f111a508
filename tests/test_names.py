"""Shipped design points, workloads and sweeps resolve by name, from any directory, and the
same way after a plain ``pip install .`` (they are package data, not files found relative to
the working directory or to the package's location)."""
import os
import shutil
import subprocess
import sys
import venv
from pathlib import Path

import pytest

import archsim
from archsim.cli import main
from archsim.config.presets import list_presets

ROOT = Path(__file__).resolve().parents[1]


def test_every_shipped_file_is_a_preset_of_its_kind():
    for folder, category in (("hw_configs", "hw"), ("workloads", "workloads"),
                             ("sweeps", "sweeps")):
        names = sorted(p.stem for p in (ROOT / folder).glob("*.yaml"))
        assert names and list_presets(category) == names


def test_run_by_name_from_another_directory_equals_run_by_path(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    over = ["generate_tokens=3", "prompt_tokens=8"]
    by_name = archsim.run("pim_gpt", "gpt2_xl", overrides=over)
    by_path = archsim.run(ROOT / "hw_configs" / "pim_gpt.yaml",
                          ROOT / "workloads" / "gpt2_xl.yaml", overrides=over)
    assert by_name.latency_s == by_path.latency_s and by_name.energy_j == by_path.energy_j


def test_cli_run_by_name_and_a_misspelt_name(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["run", "gpu_a100_80gb", "llama2_7b", "--set", "generate_tokens=2",
                 "--format", "json"]) == 0
    capsys.readouterr()
    assert main(["run", "gpu_a100", "llama2_7b"]) == 2
    err = capsys.readouterr().err
    assert "unknown hardware config 'gpu_a100'; did you mean 'gpu_a100_80gb'" in err


@pytest.mark.slow
def test_a_plain_pip_install_resolves_names_from_any_directory(tmp_path):
    setuptools = pytest.importorskip("setuptools")
    if tuple(int(x) for x in setuptools.__version__.split(".")[:2]) < (70, 1):
        pytest.importorskip("wheel")  # older setuptools build wheels with the wheel package
    env_dir = tmp_path / "venv"
    venv.create(env_dir, system_site_packages=True, with_pip=True)
    py = env_dir / "bin" / "python"
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    # build the wheel from a copy (the build leaves build/ behind) with this interpreter's
    # setuptools (offline), and install it in the venv
    src = tmp_path / "src"
    shutil.copytree(ROOT, src, symlinks=True, ignore=shutil.ignore_patterns(
        ".git", "build", "*.egg-info", "__pycache__", ".pytest_cache", "out"))
    wheels = tmp_path / "wheels"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps",
                    "--no-build-isolation", "-w", str(wheels), str(src)], check=True, env=env,
                   cwd=tmp_path)
    (wheel,) = wheels.glob("archsim-*.whl")
    subprocess.run([str(py), "-m", "pip", "install", "-q", "--no-deps", str(wheel)],
                   check=True, env=env, cwd=tmp_path)
    code = ("import archsim, archsim.sweep as sw; "
            "assert 'site-packages' in archsim.__file__, archsim.__file__; "
            "r = archsim.run('pim_gpt', 'gpt2_xl', overrides=['generate_tokens=2', "
            "'prompt_tokens=4']); print(r.tokens, len(sw.load_sweep('batch_tradeoff')))")
    out = subprocess.run([str(py), "-c", code], check=True, env=env, cwd=tmp_path,
                         capture_output=True, text=True).stdout.split()
    assert out == ["2", "27"]
    cli = subprocess.run([str(env_dir / "bin" / "archsim"), "run", "gpu_a100_80gb",
                          "llama2_7b", "--set", "generate_tokens=2"], env=env, cwd=tmp_path,
                         capture_output=True, text=True)
    assert cli.returncode == 0, cli.stderr
