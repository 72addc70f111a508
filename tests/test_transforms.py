"""Trace transforms sit between the trace and the mapping stage; data-parallel replicas."""
import pytest

import archsim
from archsim import Simulator
from archsim.errors import ConfigError
from archsim.transforms import DataParallel, apply_transforms

from engine_helpers import hw, op, trace

A100 = {"extends": "a100_80gb"}


def test_replicas_run_side_by_side_on_their_own_devices(a100, gpt2_small):
    one = archsim.run(a100, gpt2_small, overrides=["generate_tokens=4"])
    two = archsim.run({"name": "dp2", "devices": {"gpu0": A100, "gpu1": A100},
                       "placement": {"default": "gpu0"},
                       "transforms": [{"kind": "data_parallel", "devices": ["gpu0", "gpu1"]}]},
                      gpt2_small, overrides=["generate_tokens=4"])
    assert two.tokens == 2 * one.tokens
    assert two.latency_s == one.latency_s               # no shared resource between replicas
    assert two.tokens_per_s == pytest.approx(2 * one.tokens_per_s)
    assert two.energy_j == pytest.approx(2 * one.energy_j)
    assert {d for d, _ in two.time_by_kind} == {"gpu0", "gpu1"}


def test_copies_keep_ids_deps_and_cross_step_references_consistent():
    s0 = [op(0, 5), op(1, 5, [0])]
    s1 = [op(0, 5, prior=[(1, 1)]), op(1, 5, [0]), op(2, 5, [1])]
    t = DataParallel(devices=("a", "b")).apply(trace(s0, s1))
    a1 = t.steps[1].ops
    assert [o.id for o in a1] == list(range(6))
    assert a1[3].prior == ((1, 3),) and a1[3].devices == ("b",)   # replica b's op 1 of step 0
    assert a1[4].deps == (3,) and a1[5].deps == (4,)
    res = Simulator(hw(["a", "b"])).run(t)
    assert res.ops_by_kind == {("a", "elementwise"): 5, ("b", "elementwise"): 5}


def test_decode_steps_keep_sharing_op_objects(a100, gpt2_small):
    t = archsim.generate_trace(archsim.load_workload(gpt2_small, ["generate_tokens=4"]))
    dp = DataParallel(devices=("g0", "g1")).apply(t)
    assert dp.steps[2].ops[1] is dp.steps[3].ops[1]


def test_bad_transforms_are_config_errors():
    with pytest.raises(ConfigError, match=r"transforms\[0\].devices\[1\].*unknown device 'gpu9'"):
        archsim.load_hardware({"name": "x", "devices": {"gpu0": A100},
                               "transforms": [{"kind": "data_parallel",
                                               "devices": ["gpu0", "gpu9"]}]})
    with pytest.raises(ConfigError, match="unknown transform kind 'dataparallel'.*did you mean"):
        archsim.load_hardware({"name": "x", "devices": {"gpu0": A100},
                               "transforms": [{"kind": "dataparallel", "devices": ["gpu0"]}]})
    with pytest.raises(ConfigError, match="already pinned"):
        apply_transforms(trace([op(0, 1, devices=["a"])]), [DataParallel(devices=("a", "b"))])
