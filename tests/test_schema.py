"""``archsim schema``: JSON Schemas generated from the config dataclasses accept every shipped
file and catch the typos an editor should underline."""
import json
from pathlib import Path

import pytest
import yaml

from archsim.cli import main
from archsim.config.jsonschema import json_schema

jsonschema = pytest.importorskip("jsonschema")
ROOT = Path(__file__).resolve().parents[1]
SHIPPED = {"hw": sorted((ROOT / "hw_configs").glob("*.yaml")),
           "workload": sorted((ROOT / "workloads").rglob("*.yaml")),
           "dram": sorted((ROOT / "archsim" / "presets" / "dram").glob("*.yaml")),
           "pim": sorted((ROOT / "archsim" / "presets" / "pim").glob("*.yaml"))}


def _errors(kind, data):
    v = jsonschema.Draft202012Validator(json_schema(kind))
    return [e.message for e in v.iter_errors(data)]


@pytest.mark.parametrize("kind", sorted(SHIPPED))
def test_every_shipped_file_matches_its_schema(kind):
    jsonschema.Draft202012Validator.check_schema(json_schema(kind))
    assert SHIPPED[kind]
    for path in SHIPPED[kind]:
        assert _errors(kind, yaml.safe_load(path.read_text())) == [], path


@pytest.mark.parametrize("kind, data", [
    ("hw", {"name": "x", "devcies": {}}),
    ("hw", {"name": "x", "devices": {"gpu0": {"kind": "gpu", "roofline":
                                               {"bandwith_efficiency": 0.5}}}}),
    ("hw", {"name": "x", "devices": {"gpu0": {"extends": "a100_80gb"}},
            "cost": {"basis": "lease"}}),
    ("hw", {"name": "x", "devices": {"gpu0": {"extends": "a100_80gb", "kind": "gpu",
                                               "memory_bandwidth": 2000}}}),
    ("workload", {"model": "gpt2_small", "batch_sise": 2}),
    ("workload", {"model": "gpt2_small", "batch_size": 0}),
    ("workload", {"model": {"extends": "gpt2_small", "norm": "batchnorm"}}),
    ("dram", {"extends": "hbm2", "timing": {"nRCD": 1.5}}),
])
def test_typos_and_wrong_values_are_flagged(kind, data):
    assert _errors(kind, data)


def test_the_cli_prints_or_writes_the_schema(capsys, tmp_path):
    assert main(["schema", "workload"]) == 0
    doc = json.loads(capsys.readouterr().out)
    props = doc["$defs"]["Workload"]["properties"]
    assert {"model", "batch_size", "prompt_tokens", "generate_tokens"} <= set(props)
    out = tmp_path / "hw.schema.json"
    assert main(["schema", "hw", "-o", str(out)]) == 0
    assert json.loads(out.read_text())["title"] == "archsim hardware design point"
