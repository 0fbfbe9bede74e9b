"""Load YAML while remembering the line of every key, so errors can name it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from .errors import UserInputError

Path_ = tuple[str | int, ...]


class _UniqueKeyLoader(yaml.SafeLoader):
    """A safe loader that refuses duplicate keys instead of silently keeping the last."""


def _construct_mapping(loader: _UniqueKeyLoader, node: yaml.MappingNode, deep: bool = False) -> dict:
    seen: dict[Any, int] = {}
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r} (first on line {seen[key]})", key_node.start_mark
            )
        seen[key] = key_node.start_mark.line + 1
    return loader.construct_mapping(node, deep=deep)


_UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def _index_lines(node: yaml.Node, path: Path_, lines: dict[Path_, int]) -> None:
    lines[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            child = path + (str(key_node.value),)
            _index_lines(value_node, child, lines)
            lines[child] = key_node.start_mark.line + 1
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _index_lines(item, path + (i,), lines)


class LocatedDocument:
    """A parsed YAML document plus the line number of each key path."""

    def __init__(self, data: Any, lines: dict[Path_, int], source: str) -> None:
        self.data = data
        self.lines = lines
        self.source = source

    def line_of(self, path: Path_) -> int | None:
        """Line of the deepest known prefix of ``path`` (1-based), or None."""
        path = tuple(path)
        while path:
            if path in self.lines:
                return self.lines[path]
            path = path[:-1]
        return self.lines.get((), None)

    def where(self, path: Path_) -> str:
        line = self.line_of(path)
        return f"{self.source}:{line}" if line else self.source


def load_located(path: Path) -> LocatedDocument:
    """Read and parse ``path``; raise UserInputError with file and line on any problem."""
    source = str(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise UserInputError(f"{source}: no such file; give the path of a topology file (see `labsim up --help`)")
    except OSError as err:
        raise UserInputError(f"{source}: cannot read: {err.strerror}")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as err:
        line = raw[: err.start].count(b"\n") + 1
        raise UserInputError(f"{source}:{line}: not UTF-8 text (byte 0x{raw[err.start]:02x}); save the file as UTF-8")
    return parse_located(text, source)


def parse_located(text: str, source: str) -> LocatedDocument:
    """Parse YAML text; errors name ``source`` and the line."""
    if not text.strip():
        raise UserInputError(f"{source}: the file is empty; a topology needs at least `name:`, `domain:` and `pcs:`")
    try:
        node = yaml.compose(text, Loader=_UniqueKeyLoader)
        data = yaml.load(text, Loader=_UniqueKeyLoader)
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark
        line = f":{mark.line + 1}" if mark else ""
        problem = err.problem or "malformed YAML"
        raise UserInputError(f"{source}{line}: malformed YAML: {problem}; fix the indentation or quoting there")
    except yaml.YAMLError as err:
        raise UserInputError(f"{source}: malformed YAML: {err}")
    lines: dict[Path_, int] = {}
    if node is not None:
        _index_lines(node, (), lines)
    return LocatedDocument(data, lines, source)
