"""Helpers shared by the Bicep checks of this folder (no check is registered here).

pycep-parser, which checkov uses for Bicep, renders an identifier and a string literal alike
(`value: someParam` and `value: 'some text'` both become "some..."), so questions about literals
are answered from tree-sitter-bicep's syntax tree of the same file instead.
"""

from __future__ import annotations

import functools
import re
from pathlib import Path
from typing import Any, Iterator

import tree_sitter_bicep
from tree_sitter import Language, Node, Parser

SECRET_NAME = re.compile(r"(password|passwd|secret|token|apikey|api_key|accesskey|credential|connectionstring|backend[-_]?key|^key$|key$)", re.IGNORECASE)
# Property names that contain "key"/"secret" but hold references, identifiers or settings.
NOT_SECRET_NAMES = {
    "keyvault",
    "secretidentifier",
    "keyvaultsecretname",
    "subscriptionkeyparameternames",
    "partitionkey",
    "rowkey",
    "keytype",
    "keysize",
    "keysource",
    "keyname",
    "keyvaulturi",
    "keyvaultid",
    "identityclientid",
    "ssh",
}

_PARSER = Parser(Language(tree_sitter_bicep.language()))


def looks_secret(name: str) -> bool:
    return name.lower() not in NOT_SECRET_NAMES and bool(SECRET_NAME.search(name))


def resource_config(conf: dict[str, Any]) -> dict[str, Any]:
    """The body of a resource, unwrapping pycep's `if (...)` and `for` wrappers."""
    while isinstance(conf, dict) and "config" in conf and ("condition" in conf or "loop_type" in conf):
        conf = conf["config"]
    return conf


@functools.lru_cache(maxsize=None)
def tree(path: str) -> Node:
    return _PARSER.parse(Path(path).read_bytes()).root_node


def file_of(entity_path: str) -> str:
    """The file part of checkov's `entity_path` ("<file>:<type>:<name>")."""
    return entity_path.split(":", 1)[0]


def walk(node: Node) -> Iterator[Node]:
    yield node
    for child in node.children:
        yield from walk(child)


def is_literal(node: Node | None) -> bool:
    """A string without interpolation, or a number: a value written in the file."""
    if node is None:
        return False
    if node.type == "string":
        return not any(child.type == "interpolation" for child in node.children)
    return node.type in ("number", "integer")


def literal_secret_properties(path: str, first_line: int, last_line: int) -> list[str]:
    """`name = 'literal'` object properties with secret-like names between two lines (1-based)."""
    found = []
    for node in walk(tree(path)):
        if node.type != "object_property":
            continue
        line = node.start_point[0] + 1
        if not first_line <= line <= last_line:
            continue
        key = node.child(0)
        value = node.children[-1] if node.children else None
        if key is None or value is None:
            continue
        name = key.text.decode().strip("'")
        if looks_secret(name) and is_literal(value):
            found.append(f"line {line}: {name}")
    return found


def secure_parameters_with_literal_default(path: str) -> list[tuple[int, str]]:
    """(line, name) of the `@secure()` parameters whose default value is a literal."""
    found = []
    for node in walk(tree(path)):
        if node.type != "parameter_declaration":
            continue
        decorators = node.prev_sibling
        text = node.text.decode()
        secure = "@secure()" in text
        if decorators is not None and decorators.type == "decorators":
            secure = secure or "@secure()" in decorators.text.decode()
        if not secure:
            continue
        children = node.children
        for index, child in enumerate(children):
            if child.type == "=" and index + 1 < len(children) and is_literal(children[index + 1]):
                found.append((node.start_point[0] + 1, children[1].text.decode()))
    return found
