"""JSON Schemas of the YAML inputs, generated from the config dataclasses (for editors).

``archsim schema hw|workload|dram|pim`` prints one (JSON Schema draft 2020-12). With the YAML
language server (VS Code's YAML extension, or any editor using ``yaml-language-server``) a file
gets completion, hover documentation and checks by a first-line comment::

    # yaml-language-server: $schema=hw.schema.json

The schema is generated from the same frozen dataclasses that validate a file
(:mod:`archsim.config.schema`), so it cannot drift from them: keys, types, enumerations, ranges
and documentation come from each field; a quantity is a string with a unit; ``extends`` is
allowed wherever a preset may be extended; device entries (one schema per registered device
kind, chosen by ``kind``), model and transform entries follow their own builders. archsim's
validation stays the authority (cross-field rules, presets resolved through ``extends``): the
schema can only catch a subset, and never rejects a file archsim accepts (tested on every
shipped file).
"""
from __future__ import annotations

import dataclasses
import json
import types
import typing
from typing import Any, Literal, Union

from ..units import DIMENSIONS
from .schema import schema_fields

DRAFT = "https://json-schema.org/draft/2020-12/schema"

#: top-level document kinds: name -> (module, class name, title)
DOCUMENTS = {
    "hw": ("archsim.hardware", "HardwareConfig", "archsim hardware design point"),
    "workload": ("archsim.workload", "Workload", "archsim workload"),
    "dram": ("archsim.dram.spec", "DramSpecConfig", "archsim DRAM spec"),
    "pim": ("archsim.pim.spec", "PimConfig", "archsim PIM config"),
}


def json_schema(document: str) -> dict:
    """The JSON Schema of a ``document`` kind: ``hw``, ``workload``, ``dram`` or ``pim``."""
    import importlib
    if document not in DOCUMENTS:
        raise ValueError(f"unknown document kind {document!r}; expected one of "
                         + ", ".join(DOCUMENTS))
    module, name, title = DOCUMENTS[document]
    cls = getattr(importlib.import_module(module), name)
    gen = _Generator()
    root = gen.ref(cls)
    return {"$schema": DRAFT, "title": title, **root, "$defs": gen.defs}


def dumps(document: str) -> str:
    return json.dumps(json_schema(document), indent=2, sort_keys=False)


class _Generator:
    def __init__(self):
        self.defs: dict = {}

    # ---- dataclasses, by reference ---------------------------------------------------------
    def ref(self, cls) -> dict:
        name = cls.__qualname__.replace(".", "_")
        if name not in self.defs:
            self.defs[name] = {}          # placeholder against recursion
            self.defs[name] = self.object(cls)
        return {"$ref": f"#/$defs/{name}"}

    def object(self, cls, extra: dict | None = None) -> dict:
        props = {key: self.field(f, tp) for key, (f, tp) in schema_fields(cls).items()}
        props.update(extra or {})
        out = {"type": "object", "properties": props, "additionalProperties": False}
        doc = (cls.__doc__ or "").strip().split("\n\n")[0]
        if doc:
            out["description"] = " ".join(doc.split())
        if getattr(cls, "_preset_category", None) or \
                (cls.__module__, cls.__qualname__) in _EXTENDABLE:
            props["extends"] = {"type": "string", "description": "a shipped preset name or a "
                                ".yaml path whose keys this mapping overrides"}
        # no "required": any key may come from a preset that this mapping, or the document
        # around it, extends; archsim check reports missing keys after resolving presets
        return out

    # ---- fields ----------------------------------------------------------------------------
    def field(self, f: dataclasses.Field, tp) -> dict:
        md = f.metadata
        out = self.quantity(md["dimension"]) if md.get("dimension") else self.type(tp, md)
        doc = md.get("doc")
        if doc:
            out = dict(out, description=(doc + (". " + out["description"]
                                                 if "description" in out else "")))
        if f.default is not dataclasses.MISSING and _plain(f.default) and \
                not md.get("dimension"):
            out = dict(out, default=f.default)
        return out

    def quantity(self, dimension: str) -> dict:
        dim = DIMENSIONS[dimension]
        return {"type": "string", "pattern": r"^\s*[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?\s*\S+",
                "description": f"a {dimension.replace('_', ' ')} with a unit, e.g. "
                               f"{dim.examples()}"}

    def type(self, tp, md=None) -> dict:
        md = md or {}
        origin = typing.get_origin(tp)
        special = _special(tp)
        if special is not None:
            return special(self)
        if origin in (Union, types.UnionType):
            args = [a for a in typing.get_args(tp) if a is not type(None)]
            opts = [self.type(a, md) for a in args]
            if type(None) in typing.get_args(tp):
                opts.append({"type": "null"})
            return opts[0] if len(opts) == 1 else {"anyOf": opts}
        if dataclasses.is_dataclass(tp):
            return self.ref(tp)
        if origin is Literal:
            return {"enum": list(typing.get_args(tp))}
        if origin in (tuple, list):
            (item, *_rest) = typing.get_args(tp) or (Any,)
            return {"type": "array", "items": self.type(item)}
        if origin in (dict, typing.Mapping) or tp is dict:
            args = typing.get_args(tp)
            vt = args[1] if len(args) == 2 else Any
            return {"type": "object", "additionalProperties": self.type(vt)}
        if tp is Any:
            return {}
        if tp is bool:
            return {"type": "boolean"}
        if tp in (int, float):
            out = {"type": "integer" if tp is int else "number"}
            if md.get("min") is not None:
                out["exclusiveMinimum" if md.get("min_exclusive") else "minimum"] = md["min"]
            if md.get("max") is not None:
                out["maximum"] = md["max"]
            return out
        if tp is str:
            return {"type": "string"}
        raise TypeError(f"no JSON Schema for {tp!r}")


#: schemas whose entries may ``extends`` a preset before validation (link presets are merged by
#: :mod:`archsim.topology`)
_EXTENDABLE = {("archsim.hardware", "LinkConfig")}


def _plain(v) -> bool:
    return v is None or isinstance(v, (bool, int, float, str))


# ---- types with their own builders (``__archsim_build__``) ------------------------------------

def _device_entry(gen: _Generator) -> dict:
    from ..devices.base import device_kinds
    kinds = []
    for kind, cls in sorted(device_kinds().items()):
        obj = gen.object(cls.Config, {"count": {"type": "integer", "minimum": 1, "description":
                                                "declare a group NAME0 ... NAME<count-1>"}})
        obj["properties"]["kind"] = {"const": kind}
        obj["properties"]["extends"] = {"type": "string", "description": "a device preset "
                                        "(archsim list presets) or a .yaml path"}
        obj["description"] = f"a '{kind}' device: " + obj.get("description", "")
        kinds.append(obj)
    return {"anyOf": [{"type": "string", "description": "a device preset name"},
                      {"type": "object", "required": ["extends"],
                       "not": {"required": ["kind"]}},
                      *kinds]}


def _model(gen: _Generator) -> dict:
    from ..model import ModelSpec
    return {"anyOf": [{"type": "string", "description": "a model preset (archsim list models)"},
                      gen.ref(ModelSpec)]}


def _transform(gen: _Generator) -> dict:
    from ..transforms.base import transform_kinds
    out = []
    for kind, cls in sorted(transform_kinds().items()):
        obj = gen.object(cls)
        obj["properties"]["kind"] = {"const": kind}
        out.append(obj)
    return {"anyOf": out} if out else {"type": "object"}


def _timing_value(gen: _Generator) -> dict:
    return {"anyOf": [{"type": "integer", "minimum": 0, "description": "clock cycles"},
                      dict(gen.quantity("time"), description="a duration with a unit, rounded "
                           "up to cycles")]}


def _special(tp):
    name = getattr(tp, "__qualname__", None)
    module = getattr(tp, "__module__", "")
    return {("archsim.devices.common", "DeviceEntry"): _device_entry,
            ("archsim.model", "ModelSpec"): _model,
            ("archsim.transforms.base", "TransformEntry"): _transform,
            ("archsim.dram.spec", "TimingValue"): _timing_value}.get((module, name))
