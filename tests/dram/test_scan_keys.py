"""The controller's scan reads per-bank keys that are recomputed only for the banks something
touched since the last scan (an issued command's bank group, an admission, a mode or refresh
change). After every update the keys of each bank with queued requests must equal keys
computed from scratch: a missed invalidation would silently pick a different command."""
import numpy as np
import pytest

import archsim.dram.kernel as kernel
from archsim.dram import load_spec, simulate
from archsim.dram.scan import bank_keys

from .conftest import random_traffic


@pytest.fixture
def checked_keys(monkeypatch):
    """Run the Python twin with every ``update_keys`` followed by a from-scratch check."""
    calls = {"updates": 0, "banks": 0}
    original = kernel.update_keys

    def update_and_check(mode, hitcap, brank, bgrp, qcount, open_row, hits_since, pend,
                         pend_act, rbank, ref_hold, cmdj, hkey, mkey, mj, *rest):
        original(mode, hitcap, brank, bgrp, qcount, open_row, hits_since, pend, pend_act,
                 rbank, ref_hold, cmdj, hkey, mkey, mj, *rest)
        timing = rest[2:]   # after dirty, dlist: nx ... w_lat
        h2, m2, j2 = hkey.copy(), mkey.copy(), mj.copy()
        nbt = len(mkey)
        calls["updates"] += 1
        for b in range(nbt):
            if qcount[b] == 0:
                continue
            calls["banks"] += 1
            bank_keys(b, brank[b], bgrp[b], mode, hitcap, open_row, hits_since, pend, pend_act,
                      rbank, ref_hold, cmdj, h2, m2, j2, *timing)
            assert (hkey[b], hkey[nbt + b], mkey[b], mj[b]) == (h2[b], h2[nbt + b], m2[b],
                                                                 j2[b]), f"bank {b} stale"

    monkeypatch.setattr(kernel, "update_keys", update_and_check)
    return calls


@pytest.mark.parametrize("name,refresh,policy", [("gddr6", "per_bank", "open"),
                                                 ("hbm3", "per_bank", "closed"),
                                                 ("lpddr5", "all_bank", "open")])
def test_incremental_bank_keys_equal_keys_from_scratch(checked_keys, name, refresh, policy):
    spec = load_spec(name, refresh=refresh, row_policy=policy)
    addr, wr, arr = random_traffic(spec, 1500, seed=4, read_ratio=0.6, gap=3)
    # a few hot rows too, so that banks hold several requests, hits and conflicts
    rng = np.random.default_rng(5)
    addr[::3] = addr[rng.integers(0, 40, len(addr[::3]))]
    res = simulate(spec, addr, wr, arr, engine="python")
    assert (res.issue >= 0).all()
    assert checked_keys["updates"] > 1000 and checked_keys["banks"] > 1000
