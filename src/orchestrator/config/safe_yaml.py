"""YAML from people we do not trust, parsed once and within bounds.

Configs are small; anything far beyond that is a mistake or an attack (`/dev/zero`, a "billion
laughs" alias bomb, a recursive alias, a 5000-digit number, a list of a million items). Each
bound is said in the error, with where it was hit. The C loader is used when PyYAML has it.
"""

from __future__ import annotations

from typing import Any

import yaml

from orchestrator.errors import ConfigError

MAX_BYTES = 1024 * 1024  # a config file
MAX_NODES = 100_000  # values in the whole document, aliases expanded
MAX_ITEMS = 10_000  # entries in one list or mapping
MAX_DEPTH = 64  # nesting of lists and mappings
MAX_DIGITS = 30  # in one number

_LOADER: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_NUMBER_TAGS = {"tag:yaml.org,2002:int", "tag:yaml.org,2002:float"}


def read_bounded(path_text: str, read: Any) -> str:
    """Read at most MAX_BYTES from `read` (a file's read method); refuse more."""
    data: bytes = read(MAX_BYTES + 1)
    if len(data) > MAX_BYTES:
        raise ConfigError(f"{path_text} is larger than {MAX_BYTES // 1024} KiB, the most a config"
                          " may be; is it the right file?")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise ConfigError(f"{path_text} is not UTF-8 text; is it the right file?") from None


def load(text: str, where: str) -> tuple[Any, yaml.Node | None]:
    """(data, node graph) of one YAML document; `where` prefixes positions (`file`)."""
    loader = _LOADER(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None, None
        check(node, where)
        return loader.construct_document(node), node
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        at = f"{where}:{mark.line + 1}:{mark.column + 1}" if mark else where
        raise ConfigError(f"{at}: YAML syntax error: {exc.problem or exc.context}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{where}: YAML error: {' '.join(str(exc).split())[:200]}") from None
    except RecursionError:
        raise ConfigError(f"{where}: the YAML is nested too deeply to read") from None
    finally:
        loader.dispose()


def check(root: yaml.Node, where: str) -> None:
    """Refuse recursive aliases, documents that expand beyond MAX_NODES, long collections,
    deep nesting and numbers with too many digits; walks each distinct node once."""
    sizes: dict[int, int] = {}
    # Iterative post-order walk: (node, depth, children visited?)
    stack: list[tuple[yaml.Node, int, bool]] = [(root, 1, False)]
    open_nodes: set[int] = set()
    while stack:
        node, depth, done = stack.pop()
        key = id(node)
        if done:
            open_nodes.discard(key)
            total = 1 + sum(sizes[id(child)] for child in _children(node))
            if total > MAX_NODES:
                raise ConfigError(f"{_at(where, node)}: this value expands to more than"
                                  f" {MAX_NODES} values (through aliases); a config needs far fewer")
            sizes[key] = total
            continue
        if key in sizes:
            continue
        if key in open_nodes:
            raise ConfigError(f"{_at(where, node)}: an alias refers to a value that contains it;"
                              " recursive aliases are not allowed")
        if depth > MAX_DEPTH:
            raise ConfigError(f"{_at(where, node)}: nested deeper than {MAX_DEPTH} levels")
        if isinstance(node, yaml.ScalarNode):
            _check_scalar(node, where)
            sizes[key] = 1
            continue
        children = _children(node)
        entries = len(node.value)  # a mapping's entries are key-value pairs
        if entries > MAX_ITEMS:
            raise ConfigError(f"{_at(where, node)}: {entries} entries in one list or mapping;"
                              f" at most {MAX_ITEMS}")
        open_nodes.add(key)
        stack.append((node, depth, True))
        for child in children:
            if id(child) in open_nodes:
                raise ConfigError(f"{_at(where, child)}: an alias refers to a value that contains"
                                  " it; recursive aliases are not allowed")
            stack.append((child, depth + 1, False))


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.MappingNode):
        return [part for pair in node.value for part in pair]
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    return []


def _check_scalar(node: yaml.ScalarNode, where: str) -> None:
    if node.tag in _NUMBER_TAGS:
        digits = sum(ch.isdigit() for ch in node.value)
        if digits > MAX_DIGITS:
            raise ConfigError(f"{_at(where, node)}: a number of {digits} digits; numbers here have"
                              f" at most {MAX_DIGITS}")


def _at(where: str, node: yaml.Node) -> str:
    mark = node.start_mark
    return f"{where}:{mark.line + 1}:{mark.column + 1}" if mark and mark.line is not None else where
