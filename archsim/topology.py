"""Device groups and link presets in a design point, expanded before validation.

- ``devices: {gpu: {extends: h100_sxm, count: 8}}`` declares ``gpu0`` ... ``gpu7`` and the
  group ``gpu`` (a 32-device system is not 32 entries). ``groups:`` may name other lists.
- A link's ``src`` or ``dst`` may name a group: the link is repeated for every member
  (``{src: gpu, dst: nvswitch, extends: nvlink4}`` attaches each GPU to the switch).
- A link may ``extends:`` a link preset (``archsim/presets/links/``: NVLink 3 and 4, PCIe Gen4
  and Gen5 x16, 400 Gb/s RDMA, CXL) and override its keys.

Expansion keeps every key's file and line, so errors in an expanded entry point at the line the
user wrote.
"""
from __future__ import annotations

from .config.presets import deep_merge, resolve_extends
from .config.schema import Ctx
from .config.yamlio import Located


def expand(located: Located) -> Located:
    """``located`` with device groups and group links expanded and link presets merged."""
    data = located.data
    if not isinstance(data, dict):
        return located
    data = deep_merge({}, data)
    locs = dict(located.locs)
    out = Located(data, located.file, locs)
    devices = data.get("devices")
    groups = data.get("groups") or {}
    if isinstance(groups, dict):        # anything else is left for the schema to report
        groups = dict(groups)
    if isinstance(devices, dict):
        new = {}
        for name, entry in devices.items():
            n = entry.get("count") if isinstance(entry, dict) else None
            if n is None:
                new[name] = entry
                continue
            ctx = Ctx(out, ("devices", name, "count"))
            if isinstance(n, bool) or not isinstance(n, int) or n < 1:
                raise ctx.error(f"expected a device count >= 1, got {n!r}")
            body = {k: v for k, v in entry.items() if k != "count"}
            members = [f"{name}{i}" for i in range(n)]
            for m in members:
                if m in devices and m != name:
                    raise ctx.error(f"group {name!r} would declare {m!r}, which is also "
                                    "declared on its own")
                new[m] = body
                _copy_locs(locs, ("devices", name), ("devices", m))
            if isinstance(groups, dict):
                if name in groups:
                    raise Ctx(out, ("groups", name)).error(
                        f"group {name!r} is declared twice (by 'count' and under 'groups')")
                groups[name] = members
                locs.setdefault(("groups", name), locs.get(("devices", name), (out.file, None)))
        data["devices"] = new
    if groups:
        data["groups"] = groups
    links = data.get("links")
    if isinstance(links, list) and isinstance(groups, dict):
        data["links"] = _expand_links(out, links, groups)
    return out


def _expand_links(out: Located, links: list, groups: dict) -> list:
    result = []
    locs = out.locs
    moved = {}
    for i, link in enumerate(links):
        if not isinstance(link, dict):
            result.append(link)
            moved[i] = [len(result) - 1]
            continue
        if "extends" in link:
            link = resolve_extends(link, Ctx(out, ("links", i)), "links")
        ends = [groups.get(link.get(k), [link.get(k)]) if isinstance(link.get(k), str)
                else [link.get(k)] for k in ("src", "dst")]
        moved[i] = []
        for a in ends[0]:
            for b in ends[1]:
                if a == b:
                    continue
                result.append({**link, "src": a, "dst": b})
                moved[i].append(len(result) - 1)
    # keep each written link's locations for every link it became (errors point at the source)
    old = {p: v for p, v in locs.items() if len(p) >= 2 and p[0] == "links"}
    for p in old:
        del locs[p]
    for p, v in old.items():
        for j in moved.get(p[1], []):
            locs[("links", j) + p[2:]] = v
    return result


def _copy_locs(locs: dict, src: tuple, dst: tuple) -> None:
    n = len(src)
    for p, v in list(locs.items()):
        if p[:n] == src:
            locs[dst + p[n:]] = v
