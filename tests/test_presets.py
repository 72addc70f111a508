"""Presets with overrides: a file extends a preset or another file, then overrides keys."""
import pytest

import archsim
from archsim.config.presets import list_presets
from archsim.errors import ConfigError


def test_design_point_extends_another_file_and_overrides(write, tmp_path):
    write("base.yaml", "name: base\ndevices:\n  gpu0: {extends: a100_80gb}\n")
    path = write("fast.yaml", "extends: base.yaml\nname: fast\ndevices:\n  gpu0:\n"
                              "    memory_bandwidth: \"4 TB/s\"\n")
    hw = archsim.load_hardware(path)
    assert hw.name == "fast"
    g = hw.devices["gpu0"]
    assert g.memory_bandwidth_bytes_per_s == 4e12
    assert g.tdp_w == 400.0                              # inherited from the a100_80gb preset


def test_workload_extends_a_workload_file(write, root):
    path = write("w.yaml", f"extends: {root / 'workloads' / 'llama2_7b.yaml'}\nbatch_size: 4\n")
    w = archsim.load_workload(path)
    assert w.batch_size == 4 and w.model.name == "Llama-2-7B" and w.prompt_tokens == 512


def test_extends_cycle_is_an_error(write):
    write("a.yaml", "extends: b.yaml\nname: a\n")
    b = write("b.yaml", "extends: a.yaml\nname: b\ndevices: {}\n")
    with pytest.raises(ConfigError, match="extends cycle"):
        archsim.load_hardware(b)


def test_error_in_a_preset_chain_points_at_the_overriding_file(write):
    path = write("hw.yaml", "name: x\ndevices:\n  g:\n    extends: h100_sxm\n"
                            "    roofline: {launch_overhead: 5}\n")
    with pytest.raises(ConfigError) as e:
        archsim.load_hardware(path)
    assert "hw.yaml:5" in str(e.value) and "roofline.launch_overhead" in str(e.value)


@pytest.mark.parametrize("name", list_presets("devices"))
def test_every_device_preset_loads_and_cites_a_source(name):
    hw = archsim.load_hardware({"name": name, "devices": {"d": {"extends": name}}})
    cfg = hw.devices["d"]
    assert cfg.source and len(cfg.source) > 10


@pytest.mark.parametrize("name", list_presets("models"))
def test_every_model_preset_loads_and_cites_a_source(name):
    w = archsim.load_workload({"model": name, "prompt_tokens": 1, "generate_tokens": 1})
    assert w.model.source and w.model.parameter_count() > 1e8
