"""Loading YAML with source locations.

``yaml.SafeLoader`` only (no tags that run code). Besides the plain data, every key path is mapped
to the ``(file, line)`` it came from, so validation errors can name the file, line and key.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field

import yaml

from ..errors import ConfigError

KeyPath = tuple  # tuple of str keys and int indices

#: largest YAML document accepted, in characters and in nodes once aliases are expanded (the
#: located walk and the merges visit every expanded node: an alias bomb of a few hundred bytes
#: would otherwise expand to billions of nodes). Shipped configs have a few hundred nodes.
MAX_TEXT_CHARS = 16 * 2**20
MAX_EXPANDED_NODES = 1_000_000


@dataclass
class Located:
    """Plain YAML data plus the source location of each key path."""

    data: object
    file: str | None = None
    locs: dict = field(default_factory=dict)  # KeyPath -> (file, line)

    def where(self, path: KeyPath) -> tuple:
        """Return ``(file, line)`` of ``path`` or of its nearest located ancestor."""
        p = tuple(path)
        while True:
            if p in self.locs:
                return self.locs[p]
            if not p:
                return (self.file, None)
            p = p[:-1]


def dotted(path: KeyPath) -> str:
    """Render a key path as ``a.b[2].c``."""
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (("." if out else "") + str(part))
    return out


def _walk(node, data, path, file, locs):
    if isinstance(node, yaml.MappingNode):
        seen = {}
        for knode, vnode in node.value:
            key = knode.value if isinstance(knode, yaml.ScalarNode) else None
            line = knode.start_mark.line + 1
            if key is None or not isinstance(data, dict):
                raise ConfigError("mapping keys must be plain strings", file=file, line=line,
                                  key=dotted(path) or None)
            if key in seen:
                raise ConfigError(f"duplicate key {key!r} (first given on line {seen[key]})",
                                  file=file, line=line, key=dotted(path + (key,)))
            seen[key] = line
            locs[path + (key,)] = (file, line)
            # keys like 'true' or '1' are resolved by YAML; look them up as constructed
            value = data.get(key)
            if value is None and key not in data:
                for k in data:
                    if str(k).lower() == key.lower():
                        value = data[k]
            _walk(vnode, value, path + (key,), file, locs)
    elif isinstance(node, yaml.SequenceNode) and isinstance(data, list):
        for i, (vnode, value) in enumerate(zip(node.value, data)):
            locs[path + (i,)] = (file, vnode.start_mark.line + 1)
            _walk(vnode, value, path + (i,), file, locs)


def load_text(text: str, file: str | None = None) -> Located:
    """Parse YAML ``text`` into :class:`Located` data; syntax errors become :class:`ConfigError`."""
    if len(text) > MAX_TEXT_CHARS:
        raise ConfigError(f"YAML file too large ({len(text)} characters; at most "
                          f"{MAX_TEXT_CHARS})", file=file)
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        if node is not None:
            _check_expanded_size(node, file)
        data = loader.construct_document(node) if node is not None else None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        problem = exc.problem or str(exc)
        if exc.context:
            problem = f"{exc.context}, {problem}"
        raise ConfigError(f"YAML syntax error: {problem}", file=file, line=line) from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"YAML error: {exc}", file=file) from None
    finally:
        loader.dispose()
    locs: dict = {(): (file, 1)}
    if node is not None:
        # keys must be strings: convert non-string keys (e.g. 1: or true:) and report
        data = _stringify_keys(data, node, file)
        _walk(node, data, (), file, locs)
    return Located(data, file, locs)


def _check_expanded_size(root, file) -> None:
    """Refuse a document whose aliases expand it beyond :data:`MAX_EXPANDED_NODES` nodes."""
    sizes: dict = {}

    def size(node):
        key = id(node)
        if key in sizes:
            if sizes[key] is None:
                raise ConfigError("YAML alias refers to itself (recursive structure)", file=file,
                                  line=node.start_mark.line + 1)
            return sizes[key]
        sizes[key] = None
        n = 1
        if isinstance(node, yaml.MappingNode):
            for k, v in node.value:
                n += size(k) + size(v)
        elif isinstance(node, yaml.SequenceNode):
            for v in node.value:
                n += size(v)
        if n > MAX_EXPANDED_NODES:
            raise ConfigError(f"YAML expands to more than {MAX_EXPANDED_NODES:,} nodes through "
                              "aliases (*name); write the values out or use 'extends'",
                              file=file, line=node.start_mark.line + 1)
        sizes[key] = n
        return n

    size(root)


def _stringify_keys(data, node, file):
    if isinstance(data, dict) and isinstance(node, yaml.MappingNode):
        out = {}
        for (knode, vnode), (k, v) in zip(node.value, data.items()):
            out[knode.value if isinstance(knode, yaml.ScalarNode) else k] = \
                _stringify_keys(v, vnode, file)
        if len(out) != len(node.value):  # duplicate keys collapsed by the constructor
            seen = set()
            for knode, _ in node.value:
                if knode.value in seen:
                    raise ConfigError(f"duplicate key {knode.value!r}", file=file,
                                      line=knode.start_mark.line + 1)
                seen.add(knode.value)
        return out
    if isinstance(data, list) and isinstance(node, yaml.SequenceNode):
        return [_stringify_keys(v, n, file) for v, n in zip(data, node.value)]
    return data


def load_file(path) -> Located:
    """Read and parse a YAML file; a missing or unreadable file is a :class:`ConfigError`."""
    path = os.fspath(path)
    try:
        with open(path, encoding="utf-8") as fh:
            text = fh.read()
    except FileNotFoundError:
        raise ConfigError("file not found", file=path) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read file: {exc}", file=path) from None
    return load_text(text, path)
