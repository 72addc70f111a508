import numpy as np
import pytest


STANDARDS = ["hbm2", "hbm3", "gddr6", "lpddr5"]


@pytest.fixture(params=STANDARDS)
def std_name(request):
    return request.param


def random_traffic(spec, n, seed=0, read_ratio=0.7, gap=2):
    rng = np.random.default_rng(seed)
    cap = spec.n_channels * spec.org.ranks * spec.banks_per_rank * spec.org.rows * \
        int(spec.org.row_size_bytes)
    addr = rng.integers(0, cap // 32, n) * 32
    wr = rng.random(n) >= read_ratio
    arr = np.cumsum(rng.integers(0, gap + 1, n)) if gap else None
    return addr, wr, arr


def stream_traffic(spec, n, start=0):
    return start + np.arange(n, dtype=np.int64) * spec.org.access_bytes, np.zeros(n, bool), None
