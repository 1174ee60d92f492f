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
from typing import Callable

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


@dataclass
class Case:
    name: str
    what: str
    check: str
    expect: str
    breakage: Callable[[Path], None]


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
]


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
    caught = run.returncode == 1 and f"FAIL {case.check}" in output and case.expect in output
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
