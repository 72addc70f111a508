from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def root():
    return ROOT


@pytest.fixture
def a100():
    return str(ROOT / "hw_configs" / "gpu_a100_80gb.yaml")


@pytest.fixture
def gpt2_small():
    return str(ROOT / "workloads" / "gpt2_small.yaml")


@pytest.fixture
def write(tmp_path):
    """Write a text file into tmp_path and return its path."""
    def _write(name, text):
        p = tmp_path / name
        p.write_text(text)
        return str(p)
    return _write


def pytest_collection_modifyitems(config, items):
    """Run ``@pytest.mark.slow`` tests (anywhere in the suite) only with ``-m slow`` or
    ARCHSIM_SLOW=1."""
    import os
    if "slow" in (config.getoption("-m") or "") or os.environ.get("ARCHSIM_SLOW") == "1":
        return
    skip = pytest.mark.skip(reason="slow: run with -m slow or ARCHSIM_SLOW=1")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)
