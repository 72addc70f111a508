"""The mapping stage assigns devices by op identity, honouring pins, then placement rules."""
import pytest

from archsim import Simulator
from archsim.errors import SimulationError
from archsim.mapping import Mapper

from engine_helpers import hw, op, trace


def test_shards_sharing_a_name_stay_on_their_own_devices():
    # two tensor-parallel shards of one matmul, same name and kind, pinned to two devices
    h = hw(["gpu0", "gpu1"], links=[{"src": "gpu0", "dst": "gpu1", "bandwidth": "1 GB/s"}])
    shards = [op(0, 100, name="L0.qkv_proj", devices=["gpu0"]),
              op(1, 100, name="L0.qkv_proj", devices=["gpu1"])]
    res = Simulator(h, record_timeline=True).run(trace(shards))
    _, _, _, recs, _ = res.timeline[0]
    assert [r.device for r in recs] == ["gpu0", "gpu1"]
    assert [(r.start_ps, r.end_ps) for r in recs] == [(0, 100), (0, 100)]   # in parallel
    assert res.ops_by_kind == {("gpu0", "elementwise"): 1, ("gpu1", "elementwise"): 1}


def test_unpinned_ops_follow_the_placement_rules_and_pins_win():
    h = hw(["a", "b"], rules=[{"device": "b", "names": ["attn*"]}])
    m = Mapper(h.placement, h.devices)
    assert m.assign(op(0, 1, name="attn_score")) == "b"
    assert m.assign(op(0, 1, name="dense")) == "a"
    assert m.assign(op(0, 1, name="attn_score", devices=["a"])) == "a"


def test_an_op_pinned_to_an_unknown_device_is_an_error():
    h = hw(["a"])
    with pytest.raises(SimulationError, match="pinned to device 'gpu7'"):
        Simulator(h).run(trace([op(0, 1, devices=["gpu7"])]))


def test_rules_are_resolved_once_per_name_and_kind():
    h = hw(["a", "b"], rules=[{"device": "b", "names": ["x"]}])
    m = Mapper(h.placement, h.devices)
    assert m.map_step(trace([op(0, 1, name="x"), op(1, 1, name="x"), op(2, 1, name="y")])
                      .steps[0]) == ["b", "b", "a"]
    assert len(m._ruled) == 2


def test_a_collective_without_members_is_an_error():
    from archsim import OpKind
    with pytest.raises(SimulationError, match="names no member"):
        Simulator(hw(["a"])).run(trace([op(0, 1, kind=OpKind.COLLECTIVE, out_bytes=4,
                                          collective="all_reduce")]))
