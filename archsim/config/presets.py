"""Presets, ``extends`` and ``--set`` overrides.

A YAML mapping may say ``extends: NAME`` to start from a preset and override some of its keys.
``NAME`` is either a preset shipped in the package (``archsim/presets/<category>/NAME.yaml``, found
with :mod:`importlib.resources`, never relative to the working directory) or a path ending in
``.yaml``/``.yml`` relative to the file that names it. Mappings merge key by key, recursively;
any other value replaces the preset's. Presets may extend other presets; cycles are errors.
"""
from __future__ import annotations

import difflib
import os
from importlib import resources

import yaml

from ..errors import ConfigError
from .yamlio import Located, load_file, load_text


def preset_root():
    return resources.files("archsim.presets")


def list_presets(category: str) -> list:
    """Names of the presets shipped in ``category`` (``devices``, ``models``, ``dram``, ``hw``)."""
    d = preset_root() / category
    if not d.is_dir():
        return []
    return sorted(p.name[:-5] for p in d.iterdir() if p.name.endswith(".yaml"))


def load_preset(category: str, name: str) -> Located:
    """Load preset ``name`` of ``category`` as located data (file shown as ``preset:cat/name``)."""
    res = preset_root() / category / f"{name}.yaml"
    if not res.is_file():
        raise KeyError(name)
    return load_text(res.read_text(encoding="utf-8"), f"<preset {category}/{name}.yaml>")


def is_path(name: str) -> bool:
    """Whether a reference names a file (``.yaml``/``.yml`` or a path separator) rather than a
    shipped preset."""
    return name.endswith((".yaml", ".yml")) or "/" in name or os.sep in name


def locate(source, category: str, *, relative_to: str | None = None,
           what: str | None = None) -> Located:
    """The one resolver for "a preset name, a path, or data" (hardware configs, workloads,
    DRAM specs, PIM configs, ``extends`` references).

    Parameters
    ----------
    source : str, os.PathLike, Located or dict
        A shipped preset name of ``category`` (``archsim/presets/<category>/NAME.yaml``), a YAML
        path, located data (returned as is) or plain data (located as ``<category>``).
    relative_to : str, optional
        File a relative path is relative to (the YAML file that names it). ``None``: a path as
        the user gave it. A relative path named from inside a preset is an error.
    what : str, optional
        How to call the thing in errors (default: ``"<category> preset"``).
    """
    if isinstance(source, Located):
        return source
    if isinstance(source, dict):
        return located_data(source, f"<{category}>")
    what = what or f"{category} preset"
    name = os.fspath(source) if isinstance(source, os.PathLike) else source
    if not isinstance(name, str) or not name:
        raise ConfigError("expected a preset name or a .yaml path")
    if is_path(name):
        if relative_to is not None and not os.path.isabs(name):
            if relative_to.startswith("<"):
                raise ConfigError(f"cannot resolve relative path {name!r} from a preset")
            path = os.path.join(os.path.dirname(relative_to), name)
            if not os.path.isfile(path):
                raise ConfigError(f"extends a missing file {name!r} (looked for {path})")
            return load_file(path)
        return load_file(name)
    try:
        return load_preset(category, name)
    except KeyError:
        names = list_presets(category)
        # preset names are case-insensitive (``HBM2`` is ``hbm2``); shipped names are lower case
        folded = [n for n in names if n.lower() == name.lower()]
        if len(folded) == 1:
            return load_preset(category, folded[0])
        close = difflib.get_close_matches(name, names, n=3)
        hint = f"; did you mean {', '.join(map(repr, close))}?" if close else \
            f"; available: {', '.join(names) or 'none'}"
        raise ConfigError(f"unknown {what} {name!r}{hint}") from None


def located_data(data: dict, file: str) -> Located:
    """Plain data (a ``dict`` given in Python) as :class:`Located`, without a YAML round trip.

    Errors in such data name ``file`` (e.g. ``<hardware>``) and the key path; there are no lines.
    """
    return Located(deep_merge({}, data), file, {(): (file, None)})


def deep_merge(base, over):
    """Merge ``over`` onto ``base``: mappings recursively, other values replaced."""
    if isinstance(base, dict) and isinstance(over, dict):
        out = dict(base)
        for k, v in over.items():
            out[k] = deep_merge(base[k], v) if k in base else v
        return out
    return over


def resolve_extends(value: dict, ctx, category: str, _chain=()):
    """Return ``value`` merged over the preset its ``extends`` key names.

    Locations of keys that come from the preset are added to ``ctx.located`` so later errors
    point at the preset file and line.
    """
    name = value.get("extends")
    ectx = ctx.child("extends")
    file, _line = ctx.located.where(ctx.path + ("extends",))
    try:
        base = locate(name, category, relative_to=file or "<unknown file>")
    except ConfigError as e:
        raise ectx.error(e.message) from None
    ident = base.file
    if ident in _chain:
        raise ectx.error("extends cycle: " + " -> ".join(list(_chain) + [ident]))
    base_data = base.data
    if not isinstance(base_data, dict):
        raise ectx.error(f"preset {name!r} is not a mapping")
    # resolve the base's own extends in its own file
    if "extends" in base_data:
        from .schema import Ctx
        bctx = Ctx(base, ())
        base_data = resolve_extends(base_data, bctx, category, _chain + (ident,))
    for p, loc in base.locs.items():
        full = ctx.path + p
        if p and full not in ctx.located.locs:
            ctx.located.locs[full] = loc
    over = {k: v for k, v in value.items() if k != "extends"}
    merged = deep_merge({k: v for k, v in base_data.items() if k != "extends"}, over)
    return merged


#: top-level mappings whose keys are names the user chose: ``--set`` may change an entry, not
#: invent one
NAMED_COLLECTIONS = {"devices": "device", "switches": "switch"}


def apply_overrides(located: Located, overrides) -> Located:
    """Apply ``a.b.c=value`` overrides (values parsed as YAML scalars) to located data."""
    if located.data is None:
        raise ConfigError("the file is empty: expected a mapping of keys", file=located.file,
                          line=1)
    if not isinstance(located.data, dict):
        raise ConfigError(f"expected a mapping of keys at the top level, got "
                          f"{type(located.data).__name__}", file=located.file, line=1)
    data = deep_merge({}, located.data)
    for item in overrides or ():
        if "=" not in item:
            raise ConfigError(f"--set {item!r}: expected KEY.PATH=VALUE")
        key, raw = item.split("=", 1)
        parts = [p for p in key.strip().split(".")]
        if not all(parts):
            raise ConfigError(f"--set {item!r}: empty key in {key!r}")
        try:
            value = yaml.safe_load(raw) if raw.strip() else ""
        except yaml.YAMLError:
            value = raw
        node = data
        for i, p in enumerate(parts[:-1]):
            nxt = node.get(p) if isinstance(node, dict) else None
            if nxt is None and i == 1 and parts[0] in NAMED_COLLECTIONS:
                # devices.gpu9.x: a new entry would fail later as "missing key 'kind'"
                names = sorted(node) if isinstance(node, dict) else []
                close = difflib.get_close_matches(p, names, n=1)
                hint = f"; did you mean {close[0]!r}?" if close else \
                    f"; {parts[0]}: {', '.join(names) or 'none'}"
                raise ConfigError(f"--set {item!r}: unknown {NAMED_COLLECTIONS[parts[0]]} "
                                  f"{p!r}{hint}")
            if nxt is None:
                nxt = {}
                node[p] = nxt
            elif isinstance(nxt, str):
                # a preset name (model: gpt2_small) given a key: the preset, extended
                nxt = {"extends": nxt}
                located.locs.setdefault(tuple(parts[:i + 1]) + ("extends",),
                                        located.where(tuple(parts[:i + 1])))
                node[p] = nxt
            elif not isinstance(nxt, dict):
                raise ConfigError(f"--set {item!r}: {'.'.join(parts[:i + 1])} is not a mapping")
            else:
                nxt = dict(nxt)
                node[p] = nxt
            node = nxt
        node[parts[-1]] = value
        located.locs[tuple(parts)] = ("--set", None)
    return Located(data, located.file, located.locs)


def preset_reference(value, ctx, expected: str) -> dict:
    """A schema value that may be a bare preset name: ``NAME`` becomes ``{extends: NAME}``
    (located where the name was written); anything but a name or a mapping is an error naming
    ``expected``."""
    if isinstance(value, str):
        ctx.located.locs.setdefault(ctx.path + ("extends",), ctx.located.where(ctx.path))
        return {"extends": value}
    if not isinstance(value, dict):
        raise ctx.error(f"expected {expected}, got {value!r}")
    return value
