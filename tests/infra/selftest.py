#!/usr/bin/env python3
"""Self-test of tests/infra/check_infra.py: each check must catch a file broken on purpose.

    .venv-infra/bin/python tests/infra/selftest.py [-v] [NAME ...]

Every case copies the files the checks read into a temporary directory (the working tree is
never touched), applies one breakage, runs the one check that should catch it and expects FAIL
with a given text. -v prints what the check printed. About a minute (checkov runs a few times).
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

ROOT = Path(__file__).resolve().parents[2]
COPIED = ("azure.yaml", "spin.toml", "infra", "tests/infra", "static-docs/openapi.json",
          "tools/apim-emulator/src/declarations.rs", "tools/apim-emulator/src/policy.rs")


def edit(path: str, old: str, new: str, count: int = 1) -> Callable[[Path], None]:
    def apply(root: Path) -> None:
        file = root / path
        text = file.read_text(encoding="utf-8")
        if old not in text:
            raise AssertionError(f"{path}: {old!r} not found, the case is out of date")
        file.write_text(text.replace(old, new, count), encoding="utf-8")

    return apply


def edit_line(path: str, line: int, old: str, new: str) -> Callable[[Path], None]:
    """Replace `old` on one line (1-based) of a file."""
    def apply(root: Path) -> None:
        file = root / path
        lines = file.read_text(encoding="utf-8").split("\n")
        if old not in lines[line - 1]:
            raise AssertionError(f"{path}:{line}: {old!r} not found, the case is out of date")
        lines[line - 1] = lines[line - 1].replace(old, new, 1)
        file.write_text("\n".join(lines), encoding="utf-8")

    return apply


@dataclass
class Case:
    name: str
    what: str
    check: str
    expect: str | tuple[str, ...]  # every string must appear in the check's output
    breakage: Callable[[Path], None]


def misspelled(name: str) -> str:
    """A typo: the last two letters swapped (or the last one doubled when they are equal)."""
    return name[:-2] + name[-1] + name[-2] if len(name) > 1 and name[-1] != name[-2] else name + name[-1]


def misspelling_cases() -> Iterator[Case]:
    """One case per resource type declared (not `existing`) under infra/: a property name in its
    body misspelled, which bicep-types must report at that file and line (Bicep's BCP037). The
    first property of the body's `properties` object is taken, else the first body property."""
    import tree_sitter_bicep
    from tree_sitter import Language, Parser

    parser = Parser(Language(tree_sitter_bicep.language()))
    seen: set[str] = set()
    for path in sorted((ROOT / "infra").rglob("*.bicep")):
        tree = parser.parse(path.read_bytes()).root_node
        for declaration in tree.children:
            if declaration.type != "resource_declaration" or any(c.type == "existing" for c in declaration.children):
                continue
            kind = declaration.children[2].text.decode().strip("'").split("@")[0]
            if kind in seen:
                continue
            body = declaration.children[-1]
            while body.type in ("if_statement", "for_statement"):
                body = body.named_children[-1]
            keys = [p for p in body.children if p.type == "object_property" and p.children[0].type == "identifier"]
            nested = [p.children[-1] for p in keys if p.children[0].text.decode() == "properties"]
            inner = [p for p in nested[0].children if p.type == "object_property" and p.children[0].type == "identifier"] \
                if nested and nested[0].type == "object" else []
            chosen = (inner or [p for p in keys if p.children[0].text.decode() not in ("parent", "scope", "dependsOn")])
            if not chosen:
                continue
            seen.add(kind)
            key = chosen[0].children[0]
            name, line = key.text.decode(), key.start_point[0] + 1
            relative = path.relative_to(ROOT).as_posix()
            yield Case(f"bcp037-{kind.split('/', 1)[1].replace('/', '-').lower()}",
                       f"{kind}: {name} misspelled {misspelled(name)}", "bicep-types",
                       (f"{relative}:{line}: ", f"property '{misspelled(name)}' does not exist"),
                       edit_line(relative, line, f"{name}:", f"{misspelled(name)}:"))


CASES = [
    Case("bicep-syntax", "a missing colon in ingress-ip.bicep", "bicep-parse", "infra/modules/ingress-ip.bicep",
         edit("infra/modules/ingress-ip.bicep", "  properties: {", "  properties {")),
    Case("bicep-spread", "the spread operator, which neither offline parser reads", "bicep-parse", "pycep-parser",
         edit("infra/modules/apim.bicep", "    publisherName: publisherName\n",
              "    publisherName: publisherName\n    ...tags\n")),
    Case("named-value-plain-secret", "backend-key declared as a plain-text secret value", "checkov", "CKV_NAMEAPI_2",
         edit("infra/apim/named-values.json", '"keyVaultSecretName": "backend-key",', '"value": "s3cr3t-b4ck3nd-k3y",')),
    Case("bicep-named-value-literal", "a Bicep named value with a literal secret", "checkov", "CKV_NAMEAPI_1",
         edit("infra/modules/apim.bicep", "resource product 'Microsoft.ApiManagement/service/products@2024-05-01' = {",
              "resource leaked 'Microsoft.ApiManagement/service/namedValues@2024-05-01' = {\n  parent: apim\n"
              "  name: 'backend-key-copy'\n  properties: {\n    displayName: 'backend-key-copy'\n    secret: true\n"
              "    value: 'hunter2hunter2'\n  }\n}\n\n"
              "resource product 'Microsoft.ApiManagement/service/products@2024-05-01' = {")),
    Case("bicep-secret-literal", "a literal password in a resource", "checkov", "CKV_NAMEAPI_5",
         edit("infra/modules/registry.bicep", "    adminUserEnabled: false\n",
              "    adminUserEnabled: false\n    adminPassword: 'P4ssw0rd-in-the-file'\n")),
    Case("backend-http", "the API Management backend over plain http", "checkov", "CKV_NAMEAPI_3",
         edit("infra/modules/apim-gateway.bicep", "url: 'https://${backendHost}'", "url: 'http://${backendHost}'")),
    Case("api-without-subscription", "the api API without a subscription", "checkov", "CKV_NAMEAPI_4",
         edit("infra/apim/apis/api.json", '"subscriptionRequired": true', '"subscriptionRequired": false')),
    Case("checkov-unjustified-skip", "a checkov skip without a reason", "checkov", "without a reason",
         edit("infra/modules/registry.bicep", "  // checkov:skip=CKV_AZURE_166: quarantine needs the Premium tier.",
              "  // checkov:skip=CKV_AZURE_166")),
    Case("policy-unknown-element", "an element API Management does not know", "policies", "not an API Management policy element",
         edit("infra/apim/policies/api.xml", "    <base />\n", "    <base />\n    <rate-limiter calls=\"5\" />\n")),
    Case("policy-not-in-emulator", "a real API Management policy the emulator does not implement", "policies",
         "not implemented by tools/apim-emulator",
         edit("infra/apim/policies/public.xml", "    <base />\n", "    <base />\n    <set-method>GET</set-method>\n")),
    Case("policy-unknown-named-value", "a {{named value}} nobody declares", "policies", "is not declared",
         edit("infra/apim/policies/api.xml", "{{rate-limit-calls}}", "{{rate-limit-call}}")),
    Case("policy-not-well-formed", "an unclosed element", "policies", "not well-formed XML",
         edit("infra/apim/policies/public.xml", "<cache-store duration=\"300\" />", "<cache-store duration=\"300\">")),
    Case("spinapp-bad-field", "a SpinApp field the CRD does not have", "kubernetes", "Additional properties are not allowed",
         edit("infra/k8s/app/spinapp.yaml", "  enableAutoscaling: true\n", "  enableAutoscaling: true\n  minReplicas: 2\n")),
    Case("spinapp-replicas-and-autoscaling", "replicas next to enableAutoscaling", "kubernetes", "webhook rejects",
         edit("infra/k8s/app/spinapp.yaml", "  enableAutoscaling: true\n", "  enableAutoscaling: true\n  replicas: 2\n")),
    Case("hpa-one-replica", "an HPA that allows a single replica", "kubernetes", "minReplicas 1 < 2",
         edit("infra/k8s/app/hpa.yaml", "minReplicas: 2", "minReplicas: 1")),
    Case("ingress-bad-field", "an Ingress field Kubernetes does not have", "kubernetes", "Kubernetes 1.31.0",
         edit("infra/k8s/app/ingress.yaml", "  ingressClassName: traefik\n", "  ingressClassName: traefik\n  ingressClass: traefik\n")),
    Case("yaml-indentation", "bad indentation in hpa.yaml", "yamllint", "infra/k8s/app/hpa.yaml",
         edit("infra/k8s/app/hpa.yaml", "  minReplicas: 2\n", "   minReplicas: 2\n")),
    Case("placeholder-not-rendered", "a ${PLACEHOLDER} no hook fills", "templates", "NAMESPACE_SUFFIX",
         edit("infra/k8s/app/spinapp.yaml", "  name: name-api\n  namespace: name-api\n",
              "  name: name-api${NAMESPACE_SUFFIX}\n  namespace: name-api\n")),
    Case("load-path-changed", "the public API loading the api API's policy", "declarations", "infra/apim/policies/public.xml",
         edit("infra/main.bicep", "loadTextContent('apim/policies/public.xml')", "loadTextContent('apim/policies/api.xml')")),
    Case("load-extra-file", "Bicep loading a file the emulator does not read", "declarations", "which the emulator does not read",
         edit("infra/main.bicep", "var openApiDocument = ",
              "var extraDeclaration = loadJsonContent('main.parameters.json')\nvar openApiDocument = ")),
    Case("apim-api-version", "an API Management resource on another API version", "declarations", "is not API version",
         edit("infra/modules/apim-api.bicep", "'Microsoft.ApiManagement/service/apis/policies@2024-05-01'",
              "'Microsoft.ApiManagement/service/apis/policies@2023-09-01-preview'")),
    Case("hook-env-typo", "a hook needing an environment value nobody sets", "azd", "AZURE_KEYVAULT_NAME",
         edit("infra/hooks/preprovision.sh", 'if [[ -n "${AZURE_KEY_VAULT_NAME:-}" ]]; then',
              'require_env AZURE_KEYVAULT_NAME\nif [[ -n "${AZURE_KEY_VAULT_NAME:-}" ]]; then')),
    Case("secure-param-mapped", "the generated backend key set from the azd environment", "azd", "must not set the secure parameter",
         edit("infra/main.parameters.json", '    "backendKeyExists": {',
              '    "backendKeyInitial": {\n      "value": "${BACKEND_KEY}"\n    },\n    "backendKeyExists": {')),
    Case("shellcheck", "an unquoted expansion in a hook", "azd", "shellcheck",
         edit("infra/hooks/predeploy.sh", 'spin registry push "$reference"', "spin registry push $reference")),
    # bicep-types (beside the generated misspelling cases, one per resource type)
    Case("bicep-type-version", "an API version with no type definition", "bicep-types",
         ("infra/modules/registry.bicep:", "Microsoft.ContainerRegistry/registries@2023-07-02 does not exist"),
         edit("infra/modules/registry.bicep", "resource registry 'Microsoft.ContainerRegistry/registries@2023-07-01' = {",
              "resource registry 'Microsoft.ContainerRegistry/registries@2023-07-02' = {")),
    Case("bcp035-missing-required", "the registry without its required sku", "bicep-types",
         ("infra/modules/registry.bicep:", "required property 'sku' of Microsoft.ContainerRegistry/registries is missing"),
         edit("infra/modules/registry.bicep", "  sku: {\n    name: sku\n  }\n", "")),
    Case("wrong-enum-literal", "an identity type outside its enum", "bicep-types",
         ("infra/modules/aks.bicep:", "'SystemAsigned' is not one of 'SystemAssigned' | 'UserAssigned' | 'None'"),
         edit("infra/modules/aks.bicep", "    type: 'SystemAssigned'\n", "    type: 'SystemAsigned'\n")),
    Case("wrong-literal-type", "a string where the type is a bool", "bicep-types",
         ("infra/modules/registry.bicep:", "'false' is not a bool"),
         edit("infra/modules/registry.bicep", "    adminUserEnabled: false\n", "    adminUserEnabled: 'false'\n")),
    Case("read-only-property", "the registry's login server set", "bicep-types",
         ("infra/modules/registry.bicep:", "property 'loginServer' of RegistryProperties is read-only"),
         edit("infra/modules/registry.bicep", "    adminUserEnabled: false\n",
              "    adminUserEnabled: false\n    loginServer: 'example.azurecr.io'\n")),
    Case("module-unknown-param", "main.bicep passing a parameter the module does not declare", "bicep-types",
         ("infra/main.bicep:", "the module has no parameter 'principalKind'"),
         edit("infra/main.bicep", "    principalType: principalType\n  }\n}\n\nmodule ingressAddress",
              "    principalKind: principalType\n  }\n}\n\nmodule ingressAddress")),
    Case("role-table-wrong-guid", "the review's wrong AKS Cluster User GUID in the role table", "bicep-types",
         ("infra/built-in-roles.json:4: ", "'Azure Kubernetes Service Cluster User Role' is 4abbcc35-e782-43d8-92c5-2d3f1bd2253f, "
          "not 4abbcc35-e782-43d8-92c5-2d3abe9cd1d3"),
         edit("infra/built-in-roles.json", "4abbcc35-e782-43d8-92c5-2d3f1bd2253f", "4abbcc35-e782-43d8-92c5-2d3abe9cd1d3")),
    Case("role-guid-literal", "a role assignment with a GUID that is no built-in role, bypassing the table", "bicep-types",
         ("infra/modules/aks.bicep:", "role assignment deployerClusterUser: role definition 4abbcc35-e782-43d8-92c5-2d3abe9cd1d3 "
          "is not a built-in role"),
         edit("infra/modules/aks.bicep", "var aksClusterUserRoleId = builtInRoles['Azure Kubernetes Service Cluster User Role']",
              "var aksClusterUserRoleId = '4abbcc35-e782-43d8-92c5-2d3abe9cd1d3'")),
    Case("role-name-not-builtin", "a role table entry that is not a built-in role's name", "bicep-types",
         ("infra/built-in-roles.json:2: ", "'AcrPuller' is not a built-in role name"),
         edit("infra/built-in-roles.json", '"AcrPull":', '"AcrPuller":')),
]
CASES += list(misspelling_cases())


sys.path.insert(0, str(Path(__file__).resolve().parent))
import deploy_checks  # noqa: E402 (its checks' breakages, kept beside the checks)

CASES += deploy_checks.selftest_cases(Case, edit)


def run_case(case: Case, verbose: bool) -> bool:
    with tempfile.TemporaryDirectory(prefix="infra-selftest-") as temp:
        root = Path(temp) / "main"
        for item in COPIED:
            source, target = ROOT / item, root / item
            target.parent.mkdir(parents=True, exist_ok=True)
            if source.is_dir():
                shutil.copytree(source, target, ignore=shutil.ignore_patterns("__pycache__"))
            else:
                shutil.copy2(source, target)
        case.breakage(root)
        run = subprocess.run([sys.executable, str(root / "tests/infra/check_infra.py"), "--quiet", "--only", case.check],
                             capture_output=True, text=True)
    output = run.stdout + run.stderr
    expected = (case.expect,) if isinstance(case.expect, str) else case.expect
    caught = run.returncode == 1 and f"FAIL {case.check}" in output and all(e in output for e in expected)
    print(f"{'PASS' if caught else 'FAIL'} {case.name}: {case.what} -> {case.check}")
    if verbose or not caught:
        for line in output.splitlines():
            if not re.match(r"^(infra checks took|\d+ passed)", line):
                print(f"    {line}")
    return caught


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("names", nargs="*", help="cases to run (default: all)")
    parser.add_argument("-v", "--verbose", action="store_true")
    arguments = parser.parse_args()
    cases = [c for c in CASES if not arguments.names or c.name in arguments.names]
    results = [run_case(case, arguments.verbose) for case in cases]
    print(f"{sum(results)} passed, {len(results) - sum(results)} failed")
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(main())
