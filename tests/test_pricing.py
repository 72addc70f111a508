"""Pricing happens once, after the run, and refuses an action it cannot price."""
import pytest

from archsim import Simulator
from archsim.devices.base import OpCost
from archsim.errors import SimulationError

from engine_helpers import FixedDevice, hw, op, trace


def test_an_unpriced_action_is_an_error_naming_device_and_action(monkeypatch):
    monkeypatch.setattr(FixedDevice, "op_cost",
                        lambda self, o: OpCost(o.flops, {"flop": o.flops, "sram_byte": 4}))
    with pytest.raises(SimulationError, match=r"device 'd0' counted action 'sram_byte'"):
        Simulator(hw(["d0"])).run(trace([op(0, 10)]))


def test_informational_actions_are_counted_but_not_priced(monkeypatch):
    monkeypatch.setattr(FixedDevice, "op_cost",
                        lambda self, o: OpCost(o.flops, {"flop": o.flops, "cycles": 3}))
    monkeypatch.setattr(FixedDevice, "informational_actions", lambda self: frozenset({"cycles"}))
    res = Simulator(hw(["d0"])).run(trace([op(0, 10)]))
    assert res.actions[("d0", "elementwise", "cycles")] == 3
    assert res.energy_breakdown_j()["devices"]["d0"]["dynamic"] == \
        {"elementwise": {"flop": pytest.approx(10e-12)}}


def test_energy_is_priced_once(monkeypatch):
    calls = []
    original = FixedDevice.energy_table
    monkeypatch.setattr(FixedDevice, "energy_table",
                        lambda self: calls.append(1) or original(self))
    res = Simulator(hw(["d0"])).run(trace([op(0, 10)], [op(0, 20)]))
    n = len(calls)
    res.to_dict(), res.energy_j, res.energy_per_token_j, res.to_table()
    assert len(calls) == n == 1
    assert res.energy_j == pytest.approx(30e-12)
