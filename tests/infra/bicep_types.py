"""Bicep type check against Azure's own resource type definitions, offline.

The Bicep compiler checks a template against the type definitions of Azure/bicep-types-az
(copied into tests/infra/reference/bicep-types/, see its README). No compiler runs here, so
this module applies the same data to tree-sitter-bicep's syntax tree of every file under infra/:

- every `resource` declaration's `type@apiVersion` exists in the data;
- every property name written in a resource body exists on its type (Bicep's BCP037), through
  nested objects, arrays, `for` bodies, both branches of `cond ? a : b` and discriminated objects
  (the discriminator's literal value picks the variant); required properties are present
  (BCP035); read-only properties are not set;
- literal values fit their type: string (and its length), int (and its range), bool, string
  literal enums and unions, array item types, `null` only where the property is optional.
  A value that is an expression (a parameter, a function call, an interpolated string...) is
  known only at deployment time: it is skipped and counted;
- `module` declarations pass only parameters the module declares, every parameter without a
  default, and literal values of the declared type and `@allowed` list;
- every role assignment names its role through the role table infra/built-in-roles.json (role
  name to GUID, loaded with loadJsonContent), whose entries must be built-in roles with that
  exact name and GUID (tests/infra/reference/azure-builtin-roles.json), or through a role
  definition the deployment creates. A wrong GUID fails at deployment with
  RoleDefinitionDoesNotExist.

Used by check_infra.py (`bicep-types`); problems are "file:line: message".
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

from tree_sitter import Node

REQUIRED, READ_ONLY = 1, 2
# Keys of a resource body that are Bicep's own, not properties of the Azure type.
LANGUAGE_KEYS = {"parent", "scope", "dependsOn"}
# What an `existing` resource body may set.
EXISTING_KEYS = {"name", "parent", "scope"}
MODULE_KEYS = {"name", "params", "scope", "dependsOn"}
ROLE_ASSIGNMENTS = "microsoft.authorization/roleassignments"
ROLE_DEFINITIONS = "microsoft.authorization/roledefinitions"
ROLE_TABLE_NAME = "built-in-roles.json"
ID_FUNCTIONS = {"subscriptionResourceId", "resourceId", "tenantResourceId", "managementGroupResourceId", "extensionResourceId"}
GUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
ESCAPES = {"\\n": "\n", "\\r": "\r", "\\t": "\t", "\\\\": "\\", "\\'": "'", "\\$": "$"}


class Expression:
    """A value known only at deployment time."""


EXPRESSION = Expression()


@dataclass
class Counts:
    files: int = 0
    resources: int = 0
    existing: int = 0
    modules: int = 0
    properties: int = 0
    literals: int = 0
    expressions: int = 0
    role_assignments: int = 0


@dataclass
class Result:
    problems: list[str] = field(default_factory=list)
    counts: Counts = field(default_factory=Counts)


class TypeLibrary:
    """The type files of one folder, indexed by `provider/type@api-version` (case-insensitive)."""

    def __init__(self, directory: Path) -> None:
        self.resources: dict[str, tuple[list[dict[str, Any]], dict[str, Any]]] = {}
        self.files = sorted(directory.glob("*.json"))
        for path in self.files:
            types = json.loads(path.read_text(encoding="utf-8"))
            for item in types:
                if item.get("$type") == "ResourceType":
                    self.resources[item["name"].lower()] = (types, self.get(types, item["body"]))

    @staticmethod
    def get(types: list[dict[str, Any]], reference: dict[str, Any]) -> dict[str, Any]:
        return types[int(reference["$ref"].split("/")[-1])]

    def versions(self, resource_type: str) -> list[str]:
        prefix = resource_type.lower() + "@"
        return sorted(name.split("@", 1)[1] for name in self.resources if name.startswith(prefix))


def walk(node: Node) -> Iterator[Node]:
    yield node
    for child in node.children:
        yield from walk(child)


def unwrap(node: Node) -> Node:
    while node.type == "parenthesized_expression" and node.named_child_count == 1:
        node = node.named_children[0]
    return node


def string_value(node: Node) -> str | None:
    """The text of a string literal without interpolation; None for anything else."""
    if node.type != "string" or any(child.type == "interpolation" for child in node.children):
        return None
    parts = []
    for child in node.children:
        if child.type == "string_content":
            parts.append(child.text.decode())
        elif child.type == "escape_sequence":
            text = child.text.decode()
            if text.startswith("\\u{"):
                parts.append(chr(int(text[3:-1], 16)))
            else:
                parts.append(ESCAPES.get(text, text))
    return "".join(parts)


def literal(node: Node) -> Any:
    """The Python value of a scalar literal, or EXPRESSION."""
    node = unwrap(node)
    if node.type == "string":
        value = string_value(node)
        return EXPRESSION if value is None else value
    if node.type == "number":
        return int(node.text.decode())
    if node.type == "boolean":
        return node.text.decode() == "true"
    if node.type == "null":
        return None
    return EXPRESSION


def property_key(prop: Node) -> str | None:
    """The name of an object property; None when it is computed (interpolated)."""
    key = prop.children[0]
    if key.type == "string":
        return string_value(key)
    return key.text.decode()


def property_value(prop: Node) -> Node:
    return prop.children[-1]


def object_properties(node: Node) -> list[Node]:
    return [child for child in node.children if child.type == "object_property"]


def describe(type_: dict[str, Any], library_types: list[dict[str, Any]]) -> str:
    kind = type_["$type"]
    if kind == "StringLiteralType":
        return repr(type_["value"])
    if kind == "UnionType":
        return " | ".join(describe(TypeLibrary.get(library_types, e), library_types) for e in type_["elements"])
    if kind in ("ObjectType", "DiscriminatedObjectType"):
        return f"object {type_.get('name', '')}".strip()
    return kind.removesuffix("Type").lower()


class FileChecker:
    """Type-checks one Bicep file; problems go to the shared Result."""

    def __init__(self, path: Path, tree: Node, library: TypeLibrary, result: Result, label: str,
                 roles: "RoleTable") -> None:
        self.path, self.tree, self.library, self.result, self.label, self.roles = path, tree, library, result, label, roles
        self.variables: dict[str, Node] = {}
        self.parameters: set[str] = set()
        self.resources: dict[str, tuple[str, Node, bool]] = {}
        for node in tree.children:
            if node.type == "variable_declaration":
                self.variables[node.children[1].text.decode()] = node.children[-1]
            elif node.type == "parameter_declaration":
                self.parameters.add(node.children[1].text.decode())

    # -- reporting ---------------------------------------------------------------------------

    def problem(self, node: Node, text: str) -> None:
        self.result.problems.append(f"{self.label}:{node.start_point[0] + 1}: {text}")

    # -- declarations ------------------------------------------------------------------------

    def check(self) -> None:
        self.result.counts.files += 1
        for node in walk(self.tree):
            if node.type == "resource_declaration" and node.parent is not None and node.parent.type == "infrastructure":
                self.resource(node, None)
            elif node.type == "module_declaration":
                self.module(node)

    def resource(self, node: Node, parent_type: str | None) -> None:
        symbol = node.children[1].text.decode()
        type_node = node.children[2]
        written = string_value(type_node)
        existing = any(child.type == "existing" for child in node.children)
        if written is None:
            self.problem(type_node, f"resource {symbol}: the type must be a literal string")
            return
        if parent_type is not None:
            base, _, version = parent_type.partition("@")
            child, _, child_version = written.partition("@")
            written = f"{base}/{child}@{child_version or version}"
        self.result.counts.resources += 1
        resource_type, _, api_version = written.partition("@")
        body = self.body(node.children[-1])
        self.resources[symbol] = (resource_type.lower(), body, existing)
        entry = self.library.resources.get(written.lower())
        if entry is None:
            known = self.library.versions(resource_type)
            hint = (f"API versions with type data: {', '.join(known)}" if known
                    else "no type data for this resource type: add its types.json to tests/infra/reference/bicep-types/")
            self.problem(type_node, f"resource {symbol}: {written} does not exist in Azure's type definitions ({hint})")
            return
        types, body_type = entry
        if body is None:
            self.result.counts.expressions += 1
            return
        where = f"resource {symbol} ({written})"
        if existing:
            self.result.counts.existing += 1
            for prop in object_properties(body):
                name = property_key(prop)
                self.result.counts.properties += 1
                if name not in EXISTING_KEYS:
                    self.problem(prop, f"{where}: an existing resource sets only {sorted(EXISTING_KEYS)}, not {name!r}")
            return
        for prop in object_properties(body):
            nested = prop.children[0]
            if nested.type == "resource_declaration":
                self.resource(nested, written)
        self.value(body, types, body_type, where, required=True, extra=LANGUAGE_KEYS)
        if resource_type.lower() == ROLE_ASSIGNMENTS:
            self.role_assignment(symbol, body)

    @staticmethod
    def body(node: Node) -> Node | None:
        """The object of `= {...}`, `= if (c) {...}`, `= [for x in y: {...}]` (and `if` inside `for`)."""
        node = unwrap(node)
        while node.type in ("if_statement", "for_statement"):
            node = unwrap(node.named_children[-1])
        return node if node.type == "object" else None

    # -- values --------------------------------------------------------------------------------

    def value(self, node: Node, types: list[dict[str, Any]], type_: dict[str, Any], where: str,
              required: bool = False, extra: set[str] = frozenset()) -> None:
        """Check a value against a type; `required` says whether null is refused."""
        node = unwrap(node)
        kind = type_["$type"]
        if node.type == "ternary_expression":
            branches = node.named_children[1:]
            for branch in branches:
                self.value(branch, types, type_, where, required)
            return
        if kind == "AnyType":
            self.result.counts.literals += 1
            return
        if node.type == "for_statement":
            body = unwrap(node.named_children[-1])
            while body.type == "if_statement":
                body = unwrap(body.named_children[-1])
            if kind == "ArrayType":
                self.value(body, types, TypeLibrary.get(types, type_["itemType"]), f"{where}[]")
            elif kind == "UnionType" and self.accepts_kind(types, type_, "ArrayType"):
                self.result.counts.expressions += 1
            else:
                self.problem(node, f"{where}: an array ([for ...]) where the type is {describe(type_, types)}")
            return
        if node.type == "null":
            self.result.counts.literals += 1
            if required:
                self.problem(node, f"{where}: null for a required property")
            return
        if node.type == "string" and string_value(node) is None:
            # An interpolated string: its text is an expression, but it is a string.
            self.result.counts.expressions += 1
            if not self.accepts_kind(types, type_, "StringType", "StringLiteralType"):
                self.problem(node, f"{where}: a string where the type is {describe(type_, types)}")
            return
        if node.type not in ("object", "array", "string", "number", "boolean"):
            self.result.counts.expressions += 1
            return
        if kind == "UnionType":
            self.union(node, types, type_, where)
            return
        if kind == "ObjectType":
            if node.type != "object":
                self.problem(node, f"{where}: {node.type} where the type is {describe(type_, types)}")
                return
            self.object(node, types, type_.get("properties") or {}, type_.get("additionalProperties"),
                        f"{where}", type_.get("name", "object"), extra)
            return
        if kind == "DiscriminatedObjectType":
            if node.type != "object":
                self.problem(node, f"{where}: {node.type} where the type is {describe(type_, types)}")
                return
            self.discriminated(node, types, type_, where, extra)
            return
        if kind == "ArrayType":
            if node.type != "array":
                self.problem(node, f"{where}: {node.type} where the type is an array")
                return
            items = [child for child in node.named_children if child.type not in ("comment",)]
            self.result.counts.literals += 1
            if "minLength" in type_ and len(items) < type_["minLength"]:
                self.problem(node, f"{where}: {len(items)} items, at least {type_['minLength']} required")
            if "maxLength" in type_ and len(items) > type_["maxLength"]:
                self.problem(node, f"{where}: {len(items)} items, at most {type_['maxLength']} allowed")
            item_type = TypeLibrary.get(types, type_["itemType"])
            for index, item in enumerate(items):
                self.value(item, types, item_type, f"{where}[{index}]", required=True)
            return
        self.scalar(node, types, type_, where)

    def scalar(self, node: Node, types: list[dict[str, Any]], type_: dict[str, Any], where: str) -> None:
        value = literal(node)
        self.result.counts.literals += 1
        error = self.scalar_error(value, type_)
        if error:
            self.problem(node, f"{where}: {error}")

    @staticmethod
    def scalar_error(value: Any, type_: dict[str, Any]) -> str | None:
        kind = type_["$type"]
        if kind == "StringLiteralType":
            return None if value == type_["value"] else f"{value!r} is not {type_['value']!r}"
        if kind == "StringType":
            if not isinstance(value, str):
                return f"{value!r} is not a string"
            if "minLength" in type_ and len(value) < type_["minLength"]:
                return f"{value!r} is shorter than {type_['minLength']}"
            if "maxLength" in type_ and len(value) > type_["maxLength"]:
                return f"{value!r} is longer than {type_['maxLength']}"
            pattern = type_.get("pattern")
            if pattern:
                try:
                    if re.search(pattern, value) is None:
                        return f"{value!r} does not match the pattern {pattern}"
                except re.error:
                    pass  # a .NET pattern Python cannot read: not checked
            return None
        if kind == "IntegerType":
            if not isinstance(value, int) or isinstance(value, bool):
                return f"{value!r} is not an int"
            if "minValue" in type_ and value < type_["minValue"]:
                return f"{value} is less than {type_['minValue']}"
            if "maxValue" in type_ and value > type_["maxValue"]:
                return f"{value} is more than {type_['maxValue']}"
            return None
        if kind == "BooleanType":
            return None if isinstance(value, bool) else f"{value!r} is not a bool"
        if kind in ("ObjectType", "DiscriminatedObjectType"):
            return f"{value!r} is not an object"
        if kind == "ArrayType":
            return f"{value!r} is not an array"
        return None

    def accepts_kind(self, types: list[dict[str, Any]], type_: dict[str, Any], *kinds: str) -> bool:
        if type_["$type"] == "UnionType":
            return any(self.accepts_kind(types, TypeLibrary.get(types, e), *kinds) for e in type_["elements"])
        return type_["$type"] in kinds or type_["$type"] == "AnyType"

    def union(self, node: Node, types: list[dict[str, Any]], type_: dict[str, Any], where: str) -> None:
        elements = [TypeLibrary.get(types, e) for e in type_["elements"]]
        if node.type in ("string", "number", "boolean"):
            value = literal(node)
            self.result.counts.literals += 1
            if any(self.scalar_error(value, element) is None for element in elements
                   if element["$type"] not in ("ObjectType", "DiscriminatedObjectType", "ArrayType")):
                return
            self.problem(node, f"{where}: {value!r} is not one of {describe(type_, types)}")
            return
        # An object or array: the first variant that takes it without a problem wins.
        attempts = []
        for element in elements:
            trial = Result()
            checker = FileChecker(self.path, self.tree, self.library, trial, self.label, self.roles)
            checker.variables = self.variables
            checker.value(node, types, element, where)
            if not trial.problems:
                self.merge(trial.counts)
                return
            attempts.append(trial)
        if not attempts:
            self.problem(node, f"{where}: no variant of {describe(type_, types)} takes this value")
            return
        best = min(attempts, key=lambda trial: len(trial.problems))
        self.merge(best.counts)
        self.result.problems.extend(best.problems)

    def merge(self, counts: Counts) -> None:
        for name in ("properties", "literals", "expressions"):
            setattr(self.result.counts, name, getattr(self.result.counts, name) + getattr(counts, name))

    def object(self, node: Node, types: list[dict[str, Any]], properties: dict[str, Any],
               additional: dict[str, Any] | None, where: str, type_name: str, extra: set[str] = frozenset(),
               check_unknown: bool = True) -> None:
        by_lower = {name.lower(): name for name in properties}
        seen = set()
        for prop in object_properties(node):
            if prop.children[0].type == "resource_declaration":
                continue
            name = property_key(prop)
            value = property_value(prop)
            if name is None:
                self.result.counts.expressions += 1
                continue
            if name in extra:
                continue
            self.result.counts.properties += 1
            if name not in properties:
                if name.lower() in by_lower:
                    self.problem(prop, f"{where}: property {name!r} is spelled {by_lower[name.lower()]!r} in {type_name}")
                elif additional is not None:
                    self.value(value, types, TypeLibrary.get(types, additional), f"{where}.{name}")
                elif check_unknown:
                    known = ", ".join(sorted(n for n, p in properties.items() if not p.get("flags", 0) & READ_ONLY))
                    self.problem(prop, f"{where}: property {name!r} does not exist on {type_name} (BCP037); "
                                       f"settable: {known}")
                else:
                    self.result.counts.expressions += 1
                continue
            seen.add(name)
            declared = properties[name]
            flags = declared.get("flags", 0)
            if flags & READ_ONLY:
                self.problem(prop, f"{where}: property {name!r} of {type_name} is read-only")
                continue
            self.value(value, types, TypeLibrary.get(types, declared["type"]), f"{where}.{name}",
                       required=bool(flags & REQUIRED))
        if check_unknown:
            for name, declared in properties.items():
                flags = declared.get("flags", 0)
                if flags & REQUIRED and not flags & READ_ONLY and name not in seen:
                    self.problem(node, f"{where}: required property {name!r} of {type_name} is missing (BCP035)")

    def discriminated(self, node: Node, types: list[dict[str, Any]], type_: dict[str, Any], where: str,
                      extra: set[str]) -> None:
        discriminator = type_["discriminator"]
        base = dict(type_.get("baseProperties") or {})
        chosen = None
        for prop in object_properties(node):
            if property_key(prop) == discriminator:
                chosen = prop
        name = type_.get("name", "object")
        if chosen is None:
            self.problem(node, f"{where}: required discriminator {discriminator!r} of {name} is missing (BCP035)")
            self.object(node, types, base, None, where, name, extra, check_unknown=False)
            return
        value = literal(property_value(chosen))
        if isinstance(value, Expression):
            # The variant is known only at deployment: check the shared properties, count the rest.
            self.result.counts.expressions += 1
            self.object(node, types, base, None, where, name, extra | {discriminator}, check_unknown=False)
            return
        self.result.counts.literals += 1
        if value not in type_["elements"]:
            self.problem(chosen, f"{where}: {discriminator} {value!r} is not one of {sorted(type_['elements'])}")
            return
        variant = TypeLibrary.get(types, type_["elements"][value])
        merged = {**base, **(variant.get("properties") or {})}
        self.object(node, types, merged, variant.get("additionalProperties"), where,
                    f"{name} ({discriminator} {value!r})", extra)

    # -- modules -------------------------------------------------------------------------------

    def module(self, node: Node) -> None:
        symbol = node.children[1].text.decode()
        target = string_value(node.children[2])
        body = self.body(node.children[-1])
        self.result.counts.modules += 1
        if target is None or body is None:
            self.problem(node, f"module {symbol}: needs a literal path and a literal body")
            return
        path = (self.path.parent / target).resolve()
        if not path.is_file():
            self.problem(node.children[2], f"module {symbol}: {target} does not exist")
            return
        declared = module_parameters(path)
        where = f"module {symbol} ({target})"
        params = None
        for prop in object_properties(body):
            name = property_key(prop)
            self.result.counts.properties += 1
            if name not in MODULE_KEYS:
                self.problem(prop, f"{where}: {name!r} is not a module property ({sorted(MODULE_KEYS)})")
            if name == "params":
                params = unwrap(property_value(prop))
        if params is None or params.type != "object":
            if any(p.required for p in declared.values()):
                self.problem(body, f"{where}: no params object, but the module has required parameters")
            return
        given = set()
        for prop in object_properties(params):
            name = property_key(prop)
            if name is None:
                self.result.counts.expressions += 1
                continue
            self.result.counts.properties += 1
            given.add(name)
            if name not in declared:
                self.problem(prop, f"{where}: the module has no parameter {name!r} (BCP037); it declares: "
                                   f"{', '.join(sorted(declared))}")
                continue
            error = declared[name].error(property_value(prop))
            if error is EXPRESSION:
                self.result.counts.expressions += 1
            else:
                self.result.counts.literals += 1
                if error:
                    self.problem(prop, f"{where}: parameter {name}: {error}")
        for name, parameter in sorted(declared.items()):
            if parameter.required and name not in given:
                self.problem(params, f"{where}: required parameter {name!r} is missing (BCP035)")

    # -- role assignments ----------------------------------------------------------------------

    def role_assignment(self, symbol: str, body: Node) -> None:
        self.result.counts.role_assignments += 1
        properties = next((unwrap(property_value(p)) for p in object_properties(body) if property_key(p) == "properties"), None)
        role = None
        if properties is not None and properties.type == "object":
            role = next((p for p in object_properties(properties) if property_key(p) == "roleDefinitionId"), None)
        if role is None:
            return  # the type check reports the missing property
        where = f"role assignment {symbol}"
        resolved = self.role_id(property_value(role), set())
        if isinstance(resolved, str):
            self.problem(role, f"{where}: {resolved}")
            return
        guid, via_table = resolved
        if guid is None:
            return  # a role definition the deployment creates
        name = self.roles.builtin_by_guid.get(guid.lower())
        if name is None:
            self.problem(role, f"{where}: role definition {guid} is not a built-in role "
                               "(tests/infra/reference/azure-builtin-roles.json) nor one this deployment creates")
        elif not via_table:
            self.problem(role, f"{where}: role {guid} ({name}) is written as a GUID; name it through the role table "
                               f"infra/{ROLE_TABLE_NAME}")

    def role_id(self, node: Node, seen: set[str]) -> tuple[str | None, bool] | str:
        """(GUID, came through the role table), (None, False) for a role the deployment creates, or an error."""
        node = unwrap(node)
        value = string_value(node) if node.type == "string" else None
        if value is not None:
            match = GUID.search(value)
            return (match.group(0), False) if match else f"{value!r} names no role definition GUID"
        if node.type == "call_expression" and node.children[0].text.decode() in ID_FUNCTIONS:
            arguments = [a for a in node.children[1].named_children]
            types = [string_value(a) for a in arguments]
            if len(arguments) >= 2 and any((t or "").lower() == ROLE_DEFINITIONS for t in types):
                return self.role_id(arguments[-1], seen)
            return "the role definition id is not a roleDefinitions resource id"
        if node.type == "identifier":
            name = node.text.decode()
            if name in seen:
                return f"{name} refers to itself"
            if name in self.variables:
                return self.role_id(self.variables[name], seen | {name})
            if name in self.parameters:
                return (f"the role comes from parameter {name}: name it through the role table "
                        f"infra/{ROLE_TABLE_NAME} in this file")
            return f"cannot resolve {name}"
        if node.type in ("member_expression", "subscript_expression"):
            target = unwrap(node.children[0])
            key = (string_value(node.children[2]) if node.type == "subscript_expression"
                   else node.children[2].text.decode())
            if target.type == "identifier" and target.text.decode() in self.resources and key == "id":
                resource_type, body, existing = self.resources[target.text.decode()]
                if resource_type == ROLE_DEFINITIONS:
                    if not existing:
                        return (None, False)
                    name = next((property_value(p) for p in object_properties(body) if property_key(p) == "name"), None)
                    return self.role_id(name, seen) if name is not None else "role definition without a name"
            if target.type == "identifier" and self.is_role_table(target.text.decode()):
                if key not in self.roles.table:
                    return f"{key!r} is not in the role table infra/{ROLE_TABLE_NAME}"
                return (self.roles.table[key], True)
        return f"cannot resolve the role definition of {node.text.decode()!r} offline"

    def is_role_table(self, variable: str) -> bool:
        node = self.variables.get(variable)
        if node is None or node.type != "call_expression" or node.children[0].text.decode() != "loadJsonContent":
            return False
        arguments = node.children[1].named_children
        target = string_value(arguments[0]) if arguments else None
        return target is not None and (self.path.parent / target).resolve() == self.roles.path.resolve()


@dataclass
class Parameter:
    type: str | None
    required: bool
    allowed: list[Any] | None
    bounds: dict[str, int]

    def error(self, node: Node) -> str | None | Expression:
        node = unwrap(node)
        kinds = {"string": "string", "number": "int", "boolean": "bool", "object": "object", "array": "array"}
        if node.type not in kinds or (node.type == "string" and string_value(node) is None):
            return EXPRESSION
        if self.type in kinds.values() and kinds[node.type] != self.type:
            return f"{node.text.decode()[:40]} is not a {self.type}"
        value = literal(node)
        if self.allowed is not None and node.type in ("string", "number", "boolean") and value not in self.allowed:
            return f"{value!r} is not one of the @allowed values {self.allowed}"
        if isinstance(value, int) and not isinstance(value, bool):
            if value < self.bounds.get("minValue", value) or value > self.bounds.get("maxValue", value):
                return f"{value} is outside [{self.bounds.get('minValue')}, {self.bounds.get('maxValue')}]"
        if isinstance(value, str):
            if len(value) < self.bounds.get("minLength", 0) or len(value) > self.bounds.get("maxLength", len(value)):
                return f"{value!r} has a length outside [{self.bounds.get('minLength')}, {self.bounds.get('maxLength')}]"
        return None


_MODULE_PARAMETERS: dict[Path, dict[str, Parameter]] = {}
_PARSER: Any = None


def parse(path: Path) -> Node:
    global _PARSER
    if _PARSER is None:
        import tree_sitter_bicep
        from tree_sitter import Language, Parser

        _PARSER = Parser(Language(tree_sitter_bicep.language()))
    return _PARSER.parse(path.read_bytes()).root_node


def module_parameters(path: Path) -> dict[str, Parameter]:
    if path in _MODULE_PARAMETERS:
        return _MODULE_PARAMETERS[path]
    found = {}
    for node in parse(path).children:
        if node.type != "parameter_declaration":
            continue
        name = node.children[1].text.decode()
        type_node = node.children[2]
        type_name = type_node.text.decode() if type_node.type == "type" else None
        allowed, bounds = None, {}
        decorators = node.prev_sibling if node.prev_sibling is not None and node.prev_sibling.type == "decorators" else None
        for decorator in (decorators.named_children if decorators is not None else []):
            call = decorator.named_children[0] if decorator.named_children else None
            if call is None or call.type != "call_expression":
                continue
            function = call.children[0].text.decode()
            arguments = call.children[1].named_children
            if function == "allowed" and arguments and arguments[0].type == "array":
                allowed = [literal(item) for item in arguments[0].named_children]
            elif function in ("minValue", "maxValue", "minLength", "maxLength") and arguments:
                value = literal(arguments[0])
                if isinstance(value, int):
                    bounds[function] = value
        has_default = any(child.type == "=" for child in node.children)
        nullable = type_name is not None and type_name.endswith("?")
        found[name] = Parameter(type_name, not has_default and not nullable, allowed, bounds)
    _MODULE_PARAMETERS[path] = found
    return found


class RoleTable:
    """infra/built-in-roles.json checked against the list of built-in roles."""

    def __init__(self, path: Path, builtin_path: Path, result: Result, label: str) -> None:
        self.path = path
        builtin = json.loads(builtin_path.read_text(encoding="utf-8"))["roles"]
        self.builtin_by_guid = {guid.lower(): name for name, guid in builtin.items()}
        self.table: dict[str, str] = {}
        if not path.is_file():
            result.problems.append(f"{label}: the role table does not exist")
            return
        self.table = json.loads(path.read_text(encoding="utf-8"))
        lines = path.read_text(encoding="utf-8").splitlines()
        for name, guid in self.table.items():
            line = next((i + 1 for i, text in enumerate(lines) if f'"{name}"' in text), 1)
            where = f"{label}:{line}"
            if name not in builtin:
                other = self.builtin_by_guid.get(str(guid).lower())
                result.problems.append(f"{where}: {name!r} is not a built-in role name"
                                       + (f" ({guid} is {other!r})" if other else ""))
            elif str(guid).lower() != builtin[name].lower():
                other = self.builtin_by_guid.get(str(guid).lower())
                result.problems.append(f"{where}: {name!r} is {builtin[name]}, not {guid}"
                                       + (f" (that is {other!r})" if other else " (no built-in role has that GUID)"))
        if not self.table:
            result.problems.append(f"{label}: the role table is empty")


def check(files: list[Path], types_dir: Path, builtin_roles: Path, role_table: Path,
          label: Any = str) -> Result:
    """Type-check `files`; `label` turns a path into the name used in messages."""
    result = Result()
    library = TypeLibrary(types_dir)
    if not library.resources:
        result.problems.append(f"no resource type definitions in {label(types_dir)}")
        return result
    roles = RoleTable(role_table, builtin_roles, result, label(role_table))
    for path in files:
        FileChecker(path, parse(path), library, result, label(path), roles).check()
    if result.counts.resources == 0:
        result.problems.append("no resource declaration found: nothing was type-checked")
    return result
