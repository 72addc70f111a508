"""The compiled decode-and-split of a request stream gives exactly what ``decode`` and a stable
sort by channel give, for every preset and for mappings that put any level lowest."""
import numpy as np
import pytest

from archsim.dram import load_spec
from archsim.dram.controller import shared_buses
from archsim.dram.mapping import decode
from archsim.dram.split import COLS, split_requests

PRESETS = ["hbm2", "hbm3", "gddr6", "lpddr5", "ddr4", "ddr5"]


def reference(spec, addr, wr, arr, shared):
    f = decode(spec, addr)
    pcs = spec.org.pseudo_channels
    if shared:
        f["rank"] = f["channel"] % pcs
        f["channel"] = f["channel"] // pcs
    order = np.argsort(f["channel"], kind="stable")
    fields = {"arrival": arr, "is_write": wr, **f}
    return np.stack([fields[c][order] for c in COLS]), order


@pytest.mark.parametrize("name", PRESETS)
@pytest.mark.parametrize("mapping", ["RoBaCoBgRaPcCh", "ChPcRaBgBaRoCo", "RoCoBaBgRaPcCh"])
def test_split_equals_decode_and_stable_sort(name, mapping):
    spec = load_spec(name, mapping=mapping)
    rng = np.random.default_rng(3)
    n = 5000
    addr = rng.integers(0, spec.capacity_bytes // spec.org.access_bytes, n) * spec.org.access_bytes
    addr[:100] = np.arange(100) * spec.org.access_bytes   # a stream too
    wr = (rng.random(n) < 0.3).astype(np.int64)
    arr = np.sort(rng.integers(0, 10 * n, n))
    shared = shared_buses(spec)
    cols, perm, bounds = split_requests(spec, addr.astype(np.int64), wr, arr, shared)
    ref_cols, ref_order = reference(spec, addr, wr, arr, shared)
    assert np.array_equal(perm, ref_order)
    assert np.array_equal(cols, ref_cols)
    nctl = spec.org.channels if shared else spec.n_channels
    assert len(bounds) == nctl + 1 and bounds[0] == 0 and bounds[-1] == n
    ch = decode(spec, addr)["channel"]
    ch = ch // spec.org.pseudo_channels if shared else ch
    assert np.array_equal(np.diff(bounds), np.bincount(ch, minlength=nctl))
