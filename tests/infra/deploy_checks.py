"""Offline checks of the deployment's configuration paths, registered into check_infra.py's list.

Each function takes check_infra's Report (problem/note/summary) and is one PASS/FAIL line:

  runtime-config   infra/spin/runtime-config.toml and the runtime configuration the deploy hook
                   generates (lib.sh runtime_config_toml, run in bash with generated keys): TOML that
                   parses, one static variables provider, exactly the component's variable names,
                   production values, no committed key, unsafe values refused
  spinapp-config   the SpinApp against the spin-operator CRD schema, runtimeConfig.loadFromSecret
                   naming the Secret the hook writes, no `variables` (plain or from Secrets), the
                   config-version pod annotation rolling the pods
  runtime-class    the SpinAppExecutor's RuntimeClass schedules only onto nodes where
                   runtime-class-manager has installed the shim (label <shim>=provisioned)
  secret-handling  no manifest or hook puts a secret into an annotation (server-side apply only),
                   a log, an argument or the output; Key Vault errors other than SecretNotFound stop
  gateway          two backend entities with their own credentials, each API on its own, the public
                   API's operations within the docs routes, the Traefik entry points refusing
                   encoded separators, the Key Vault firewall and APIM's identity, the azd settings
  rotation         infra/scripts/rotate-backend-key.sh api and docs run against fake_cloud.py (az,
                   azd, kubectl, kubelogin stand-ins): at every state change the key API Management
                   sends is accepted by every serving pod (rolling updates modelled), the end state
                   accepts only the new key, and no key is ever an argument or printed
  preprovision     infra/hooks/preprovision.sh against the same stand-ins: the principal type, only
                   SecretNotFound means "absent", soft-deleted names and firewall refusals stop
  certificate-state  infra/hooks/postdeploy.sh against the same stand-ins: a certificate that is not
                   ready is a resumable state (exit 0, what it waits for, the command to run later)
  registry-login   infra/hooks/predeploy.sh against the same stand-ins: the ACR token reaches
                   `spin registry login --password-stdin` without az's trailing newline

The selftest cases breaking each of them are SELFTEST_CASES below (tests/infra/selftest.py).
"""

from __future__ import annotations

import json
import re
import secrets
import subprocess
import tomllib
from pathlib import Path
from typing import Any, Callable

ROOT = Path(__file__).resolve().parents[2]
INFRA = ROOT / "infra"
HOOKS = sorted((INFRA / "hooks").glob("*.sh")) + sorted((INFRA / "scripts").glob("*.sh"))
CRD_DIR = Path(__file__).resolve().parent / "reference" / "spinkube-crds"

# The component's Spin variables (SPEC section 4; COORD "Component credentials"): the runtime
# configuration must answer each of them, and nothing else.
COMPONENT_VARIABLES = (
    "backend_key", "backend_key_next", "docs_backend_key", "docs_backend_key_next", "api_base", "require_backend_key",
)
KEY_VARIABLES = ("backend_key", "backend_key_next", "docs_backend_key", "docs_backend_key_next")
# Placeholders a manifest may put into an annotation: versions and issuer names, never values.
ANNOTATION_PLACEHOLDERS = {"CONFIG_VERSION", "CLUSTER_ISSUER"}
# Routes the docs credential may reach (SPEC section 4): the public API's operations stay within.
DOCS_URL_TEMPLATES = re.compile(r"^/(docs(/\{\*?[a-z]+\})?|openapi\.json)?$")
TRAEFIK_DENIED = ("allowEncodedSlash", "allowEncodedBackSlash", "allowEncodedNullCharacter", "allowEncodedSemicolon",
                  "allowEncodedPercent", "allowEncodedQuestionMark", "allowEncodedHash")

Report = Any


def _rel(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


def _yaml(path: Path) -> list[dict[str, Any]]:
    import yaml

    return [d for d in yaml.safe_load_all(path.read_text(encoding="utf-8")) if d is not None]


def _objects(kind: str) -> list[tuple[Path, dict[str, Any]]]:
    return [(p, d) for p in sorted((INFRA / "k8s").rglob("*.yaml")) for d in _yaml(p) if d.get("kind") == kind]


def _lib_constant(name: str) -> str | None:
    match = re.search(rf'^{name}="([^"]*)"$', (INFRA / "hooks" / "lib.sh").read_text(encoding="utf-8"), re.M)
    return match.group(1) if match else None


def _spin_variables() -> set[str]:
    return set(tomllib.loads((ROOT / "spin.toml").read_text(encoding="utf-8")).get("variables", {}))


def _api_path() -> str:
    return "/" + json.loads((INFRA / "apim" / "apis" / "api.json").read_text(encoding="utf-8"))["path"]


def _check_runtime_config(report: Report, where: str, text: str, keys: dict[str, str] | None) -> None:
    """A runtime configuration: one static provider answering exactly the component's variables."""
    try:
        config = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        report.problem(f"{where}: not valid TOML: {error}")
        return
    if "config_provider" in config:
        report.problem(f"{where}: [[config_provider]] is the old name; use [[variables_provider]]")
    providers = config.get("variables_provider") or []
    if len(providers) != 1 or providers[0].get("type") != "static":
        kinds = [p.get("type") for p in providers]
        report.problem(f"{where}: needs exactly one [[variables_provider]] of type \"static\", has {kinds}")
        return
    values = providers[0].get("values")
    if not isinstance(values, dict) or not all(isinstance(v, str) for v in values.values()):
        report.problem(f"{where}: the static provider's `values` must be a table of strings")
        return
    missing, extra = set(COMPONENT_VARIABLES) - set(values), set(values) - set(COMPONENT_VARIABLES)
    if missing or extra:
        report.problem(f"{where}: variables {sorted(values)}; the component's are {list(COMPONENT_VARIABLES)} "
                       f"(missing {sorted(missing)}, unknown {sorted(extra)})")
    if values.get("api_base") != _api_path():
        report.problem(f"{where}: api_base is {values.get('api_base')!r}, the `api` API's path is {_api_path()!r}")
    if values.get("require_backend_key") != "true":
        report.problem(f"{where}: require_backend_key must be \"true\" in production")
    if keys is None:
        committed = [k for k in KEY_VARIABLES if values.get(k)]
        if committed:
            report.problem(f"{where}: {committed} hold a value: a committed file must never carry a key")
    else:
        wrong = [k for k in KEY_VARIABLES if values.get(k) != keys[k]]
        if wrong:
            report.problem(f"{where}: {wrong} do not hold the values given to the generator")


def closed_schema(schema: Any) -> Any:
    """A CRD schema as the API server applies it with strict field validation: unknown fields are errors."""
    if isinstance(schema, dict):
        schema = {key: closed_schema(value) for key, value in schema.items()}
        if (schema.get("type") == "object" and "properties" in schema and "additionalProperties" not in schema
                and not schema.get("x-kubernetes-preserve-unknown-fields")):
            schema["additionalProperties"] = False
        return schema
    if isinstance(schema, list):
        return [closed_schema(item) for item in schema]
    return schema


def _run_generator(*values: str) -> subprocess.CompletedProcess[str]:
    script = 'source infra/hooks/lib.sh; runtime_config_toml "$@"'
    return subprocess.run(["bash", "-c", script, "runtime_config_toml", *values], cwd=ROOT, capture_output=True,
                          text=True, timeout=30)


def runtime_config(report: Report) -> None:
    committed = INFRA / "spin" / "runtime-config.toml"
    _check_runtime_config(report, _rel(committed), committed.read_text(encoding="utf-8"), None)

    keys = {name: secrets.token_hex(32) for name in KEY_VARIABLES}
    keys["docs_backend_key_next"] = ""
    run = _run_generator(*(keys[name] for name in KEY_VARIABLES))
    if run.returncode != 0:
        report.problem(f"infra/hooks/lib.sh runtime_config_toml failed ({run.returncode}): {run.stderr.strip()}")
    else:
        _check_runtime_config(report, "infra/hooks/lib.sh runtime_config_toml (generated)", run.stdout, keys)
    for bad in ('"]\n[oops', "short", "x" * 40 + "\\"):
        run = _run_generator(bad, "", secrets.token_hex(32), "")
        if run.returncode == 0 or bad in run.stdout + run.stderr:
            report.problem(f"runtime_config_toml accepted (or echoed) the unsafe value {bad!r}")
    run = _run_generator("", "", secrets.token_hex(32), "")
    if run.returncode == 0:
        report.problem("runtime_config_toml accepted an empty backend_key (the component would fail closed)")

    declared = _spin_variables()
    undeclared_here = declared - set(COMPONENT_VARIABLES)
    if undeclared_here:
        report.problem(f"spin.toml declares {sorted(undeclared_here)}, which the runtime configuration does not answer "
                       "(they would reach Spin's environment provider)")
    for name in sorted(set(COMPONENT_VARIABLES) - declared):
        report.note(f"spin.toml does not declare {name} yet (the component side of SPEC section 4)")
    report.summary = (f"committed and generated runtime configurations: one static provider, the component's "
                      f"{len(COMPONENT_VARIABLES)} variables, production values, unsafe values refused")


def spinapp_config(report: Report) -> None:
    import jsonschema
    import yaml

    schemas = {}
    for path in sorted(CRD_DIR.glob("*.yaml")):
        for crd in yaml.safe_load_all(path.read_text(encoding="utf-8")):
            if crd and crd.get("kind") == "CustomResourceDefinition" and crd["spec"]["names"]["kind"] == "SpinApp":
                for version in crd["spec"]["versions"]:
                    schemas[f"{crd['spec']['group']}/{version['name']}"] = closed_schema(version["schema"]["openAPIV3Schema"])
    secret_name = _lib_constant("RUNTIME_CONFIG_SECRET")
    apps = _objects("SpinApp")
    if not apps:
        report.problem("no SpinApp under infra/k8s")
    for path, app in apps:
        label = f"{_rel(path)}: SpinApp {app['metadata'].get('name')}"
        schema = schemas.get(app.get("apiVersion"))
        if schema is None:
            report.problem(f"{label}: no CRD schema for {app.get('apiVersion')} in {_rel(CRD_DIR)}")
        else:
            for error in jsonschema.Draft7Validator(schema).iter_errors(app):
                report.problem(f"{label}: {'.'.join(map(str, error.absolute_path)) or '(root)'}: {error.message}")
        spec = app.get("spec") or {}
        runtime = spec.get("runtimeConfig") or {}
        if runtime.get("loadFromSecret") != secret_name:
            report.problem(f"{label}: runtimeConfig.loadFromSecret is {runtime.get('loadFromSecret')!r}, "
                           f"the deploy hook writes the Secret {secret_name!r} (lib.sh RUNTIME_CONFIG_SECRET)")
        if set(runtime) - {"loadFromSecret"}:
            report.problem(f"{label}: runtimeConfig has {sorted(set(runtime) - {'loadFromSecret'})}, which "
                           "loadFromSecret makes the operator ignore")
        if spec.get("variables"):
            names = [v.get("name") for v in spec["variables"]]
            report.problem(f"{label}: `variables` {names}: they become SPIN_VARIABLE_* environment variables, answered by "
                           "Spin's environment provider (about 25 ms per read) and, as plain values, readable in the "
                           "Deployment; the runtime configuration Secret answers every variable")
        annotations = spec.get("podAnnotations") or {}
        if annotations.get("name-api/config-version") != "${CONFIG_VERSION}":
            report.problem(f"{label}: podAnnotations name-api/config-version must be \"${{CONFIG_VERSION}}\" "
                           "(a hash of the Key Vault secret versions: a new configuration rolls the pods)")
    hooks = (INFRA / "hooks" / "lib.sh").read_text(encoding="utf-8")
    if "--from-file=runtime-config.toml=" not in hooks:
        report.problem("infra/hooks/lib.sh does not write the key runtime-config.toml (the name spin-operator mounts)")
    report.summary = f"{len(apps)} SpinApp: CRD schema, runtimeConfig.loadFromSecret {secret_name}, no variables, config-version annotation"


def runtime_class(report: Report) -> None:
    shims = [s for _, s in _objects("Shim")]
    classes = {c["metadata"]["name"]: c for _, c in _objects("RuntimeClass")}
    executors = _objects("SpinAppExecutor")
    if not executors:
        report.problem("no SpinAppExecutor under infra/k8s")
    for path, executor in executors:
        name = ((executor.get("spec") or {}).get("deploymentConfig") or {}).get("runtimeClassName")
        label = f"{_rel(path)}: SpinAppExecutor {executor['metadata']['name']} runtimeClassName {name!r}"
        runtime_class_object = classes.get(name)
        if runtime_class_object is None:
            created = sorted((s.get("spec") or {}).get("runtimeClass", {}).get("name") for s in shims)
            report.problem(f"{label}: not a RuntimeClass under infra/k8s (the Shims' RuntimeClasses {created} select "
                           "nodes before the shim is installed)")
            continue
        handlers = {(s.get("spec") or {}).get("runtimeClass", {}).get("handler"): s for s in shims}
        shim = handlers.get(runtime_class_object.get("handler"))
        if shim is None:
            report.problem(f"{label}: handler {runtime_class_object.get('handler')!r} is installed by no Shim")
            continue
        if (shim.get("spec") or {}).get("runtimeClass", {}).get("name") == name:
            report.problem(f"{label}: the Shim {shim['metadata']['name']} creates a RuntimeClass of the same name, and "
                           "runtime-class-manager's server-side apply would overwrite this one's scheduling")
        selector = ((runtime_class_object.get("scheduling") or {}).get("nodeSelector") or {})
        wanted = {shim["metadata"]["name"]: "provisioned"}
        if not wanted.items() <= selector.items():
            report.problem(f"{label}: scheduling.nodeSelector {selector} lacks {wanted}, the label runtime-class-manager "
                           "sets once the shim is installed on a node")
    report.summary = "SpinApp pods schedule only onto nodes labelled <shim>=provisioned"


# --- secret-handling ------------------------------------------------------------------------------

SECRET_SOURCES = re.compile(r"^\s*(?:local\s+)?([a-z_][a-z0-9_]*)=\"\$\((?:kv_secret_get [^)]* value|value_or_empty [^)]*|"
                            r"az [^)]*--query (?:accessToken|primaryKey)[^)]*)", re.M)
PRINTERS = re.compile(r"\b(echo|printf|log|warn|die|cat)\b")


def secret_handling(report: Report) -> None:
    scripts = HOOKS
    for path in scripts:
        text = path.read_text(encoding="utf-8")
        joined = text.replace("\\\n", " ")
        where = _rel(path)
        if re.search(r"^\s*set\s+(-[a-wyz]*x|-o\s+xtrace)", text, re.M) or re.search(r"\bbash\s+-x\b", text):
            report.problem(f"{where}: xtrace prints every expanded command, secrets included")
        for number, line in enumerate(joined.splitlines(), 1):
            code = line.split(" #", 1)[0]
            if code.lstrip().startswith("#"):
                continue
            if re.search(r"\bkubectl\s+apply\b", code) and "--server-side" not in code:
                report.problem(f"{where}:{number}: client-side kubectl apply writes the object into the "
                               "last-applied-configuration annotation; use apply_server_side")
            if "--from-literal" in code:
                report.problem(f"{where}:{number}: --from-literal puts a value into kubectl's arguments")
            if re.search(r"\baz keyvault secret show\b", code) and path.name != "lib.sh":
                report.problem(f"{where}:{number}: call lib.sh's kv_secret_exists/kv_secret_get (only SecretNotFound means "
                               "absent; other errors stop with what to do)")
            if re.search(r"--output tsv[^|]*\|\s*spin registry login", code):
                report.problem(f"{where}:{number}: `az ... --output tsv` ends the token with a newline, which "
                               "`spin registry login --password-stdin` keeps")
        for name in sorted(set(SECRET_SOURCES.findall(text))):
            for number, line in enumerate(joined.splitlines(), 1):
                if not re.search(rf"\$\{{?{name}\b", line) or re.match(rf"^\s*(local\s+)?{name}=", line):
                    continue
                code = line.split(" #", 1)[0].rstrip()
                printed = PRINTERS.search(code)
                piped = code.endswith("|") or re.search(r"\|\s*\S", code)
                if printed and not piped and not code.lstrip().startswith(("[[", "if ", "unset")):
                    report.problem(f"{where}:{number}: ${name} (a secret) is printed: {code.strip()}")
    lib = (INFRA / "hooks" / "lib.sh").read_text(encoding="utf-8")
    definition = re.search(r"apply_server_side\(\)\s*\{([^}]*)\}", lib)
    if not definition or "--server-side" not in definition.group(1):
        report.problem("infra/hooks/lib.sh: apply_server_side must run kubectl apply --server-side")
    for function in ("kv_secret_exists",):
        body = re.search(rf"{function}\(\)\s*\{{(.*?)\n\}}", lib, re.S)
        if not body or "SecretNotFound" not in body.group(1) or "kv_fail" not in body.group(1):
            report.problem(f"infra/hooks/lib.sh: {function} must treat only SecretNotFound as absent and stop on other errors")
    for path in sorted((INFRA / "k8s").rglob("*.yaml")):
        for document in _yaml(path):
            for key, annotations in _annotation_maps(document):
                for name, value in (annotations or {}).items():
                    placeholders = set(re.findall(r"\$\{([A-Z0-9_]+)\}", str(value)))
                    if placeholders - ANNOTATION_PLACEHOLDERS or "last-applied" in name:
                        report.problem(f"{_rel(path)}: {key} {name}: {value!r} (annotations carry versions, never values)")
    if not re.search(r"^/?\.azure/?$", (ROOT / ".gitignore").read_text(encoding="utf-8"), re.M):
        report.problem(".gitignore does not ignore .azure/ (azd env new does not add it; it holds .env and the kubeconfig)")
    report.summary = f"{len(scripts)} scripts: server-side apply only, no secret printed or passed as an argument, strict Key Vault errors; annotations carry versions only"


def _annotation_maps(document: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    found = [("metadata.annotations", (document.get("metadata") or {}).get("annotations"))]
    spec = document.get("spec") or {}
    found.append(("spec.podAnnotations", spec.get("podAnnotations")))
    found.append(("spec.template.metadata.annotations", ((spec.get("template") or {}).get("metadata") or {}).get("annotations")))
    return [(k, v) for k, v in found if v]


# --- gateway ---------------------------------------------------------------------------------------


def gateway(report: Report) -> None:
    import xml.etree.ElementTree as ET

    import yaml

    apim = INFRA / "apim"
    backends = {b["name"]: b for b in json.loads((apim / "backends.json").read_text(encoding="utf-8"))}
    named = {n["name"]: n for n in json.loads((apim / "named-values.json").read_text(encoding="utf-8"))}
    expected = {"name-api-backend": "{{backend-key}}", "name-api-docs-backend": "{{docs-backend-key}}"}
    if set(backends) != set(expected):
        report.problem(f"infra/apim/backends.json declares {sorted(backends)}, expected {sorted(expected)}")
    for name, credential in expected.items():
        header = ((backends.get(name) or {}).get("credentials") or {}).get("header") or {}
        if header != {"x-backend-key": [credential]}:
            report.problem(f"backend {name}: credentials header {header}, expected x-backend-key: {credential}")
        value = credential.strip("{}")
        if not (named.get(value) or {}).get("secret") or not (named.get(value) or {}).get("keyVaultSecretName"):
            report.problem(f"named value {value} must be a Key Vault-backed secret")
    uses = {}
    for declaration_path in sorted((apim / "apis").glob("*.json")):
        declaration = json.loads(declaration_path.read_text(encoding="utf-8"))
        policy = ET.parse(ROOT / declaration["policyFile"]).getroot()
        ids = [e.get("backend-id") for e in policy.iter("set-backend-service")]
        uses[declaration["path"]] = ids
        if declaration["path"] == "public":
            for operation in declaration["operations"]:
                if operation["method"] != "GET" or not DOCS_URL_TEMPLATES.match(operation["urlTemplate"]):
                    report.problem(f"{_rel(declaration_path)}: operation {operation['method']} {operation['urlTemplate']} "
                                   "is outside the docs routes the public API may forward")
    if uses.get("api") != ["name-api-backend"] or uses.get("public") != ["name-api-docs-backend"]:
        report.problem(f"set-backend-service per API path: {uses}; api must use name-api-backend, public name-api-docs-backend")

    main = (INFRA / "main.bicep").read_text(encoding="utf-8")
    for nv in ("backend-key", "docs-backend-key"):
        secret = (named.get(nv) or {}).get("keyVaultSecretName")
        if not secret or f"= '{secret}'" not in main:
            report.problem(f"main.bicep names no Key Vault secret {secret!r} (named value {nv})")
    vault = (INFRA / "modules" / "keyvault.bicep").read_text(encoding="utf-8")
    if not re.search(r"defaultAction:\s*'Deny'", vault) or not re.search(r"bypass:\s*'AzureServices'", vault):
        report.problem("infra/modules/keyvault.bicep: the firewall must deny by default with the AzureServices bypass")
    gateway_bicep = (INFRA / "modules" / "apim-gateway.bicep").read_text(encoding="utf-8")
    apim_bicep = (INFRA / "modules" / "apim.bicep").read_text(encoding="utf-8")
    if re.search(r"^\s*identityClientId\s*:", gateway_bicep, re.M) or not re.search(r"type:\s*'SystemAssigned", apim_bicep):
        report.problem("Key Vault-backed named values behind the Key Vault firewall need API Management's "
                       "system-assigned identity (no identityClientId)")
    if re.search(r"^\s*azurepolicy:", (INFRA / "modules" / "aks.bicep").read_text(encoding="utf-8"), re.M):
        report.problem("infra/modules/aks.bicep enables the azurepolicy add-on (needs Microsoft.PolicyInsights, no assignment here)")

    values = yaml.safe_load((INFRA / "helm" / "traefik-values.yaml").read_text(encoding="utf-8"))
    for entry_point in ("web", "websecure"):
        http = (((values.get("ports") or {}).get(entry_point) or {}).get("http") or {})
        allowed = [k for k in TRAEFIK_DENIED if (http.get("encodedCharacters") or {}).get(k) is not False]
        if allowed:
            report.problem(f"infra/helm/traefik-values.yaml ports.{entry_point}.http.encodedCharacters: {allowed} not false "
                           "(Traefik >= 3.6.7 allows them unless set false)")
        if http.get("sanitizePath") is False:
            report.problem(f"infra/helm/traefik-values.yaml ports.{entry_point}.http.sanitizePath is false: dot segments "
                           "would reach the component raw")

    parameters = json.loads((INFRA / "main.parameters.json").read_text(encoding="utf-8"))["parameters"]
    if not str(parameters.get("principalType", {}).get("value", "")).startswith("${AZURE_PRINCIPAL_TYPE"):
        report.problem("main.parameters.json: principalType must come from AZURE_PRINCIPAL_TYPE")
    if "azd env set AZURE_PRINCIPAL_TYPE" not in (INFRA / "hooks" / "preprovision.sh").read_text(encoding="utf-8"):
        report.problem("infra/hooks/preprovision.sh must derive AZURE_PRINCIPAL_TYPE from the signed-in account")
    azure = yaml.safe_load((ROOT / "azure.yaml").read_text(encoding="utf-8"))
    for event, hook in (azure.get("hooks") or {}).items():
        if set(hook) != {"posix", "windows"}:
            report.problem(f"azure.yaml hook {event}: entries {sorted(hook)}; native azd on Windows needs a `windows` entry")
    report.summary = ("two backend entities with their own Key Vault-backed credentials, the public API within the docs "
                      "routes, Traefik refusing encoded separators, Key Vault firewall with APIM's system identity")


# --- rotation ------------------------------------------------------------------------------------


def _fake_cloud(temp: Path) -> tuple[Path, Path, dict[str, str]]:
    """A copy of infra/ and an environment whose az, azd, kubectl and kubelogin are fake_cloud.py."""
    import os
    import shutil
    import sys

    root, bin_dir, state_path = temp / "repo", temp / "bin", temp / "state.json"
    shutil.copytree(INFRA, root / "infra")
    bin_dir.mkdir()
    for tool in ("az", "azd", "kubectl", "kubelogin", "spin"):
        wrapper = bin_dir / tool
        wrapper.write_text(f'#!/bin/sh\nexec "{sys.executable}" "{Path(__file__).parent / "fake_cloud.py"}" {tool} "$@"\n')
        wrapper.chmod(0o755)
    environment = {"PATH": f"{bin_dir}:{os.environ.get('PATH', '/usr/bin:/bin')}", "FAKE_CLOUD_STATE": str(state_path),
                   "ROTATION_SETTLE_SECONDS": "0", "HOME": str(temp)}
    return root, state_path, environment


def rotation(report: Report) -> None:
    """Runs infra/scripts/rotate-backend-key.sh for both credentials against fake_cloud.py."""
    import tempfile

    with tempfile.TemporaryDirectory(prefix="rotation-") as temp:
        root, state_path, environment = _fake_cloud(Path(temp))
        old = {"api": secrets.token_hex(32), "docs": secrets.token_hex(32)}
        initial = _run_generator(old["api"], "", old["docs"], "").stdout
        state = {
            "env": {"AZURE_ENV_NAME": "rotation", "AZURE_SUBSCRIPTION_ID": "00000000-0000-0000-0000-000000000000",
                    "AZURE_RESOURCE_GROUP": "rg-rotation", "AZURE_AKS_CLUSTER_NAME": "aks-rotation", "APIM_NAME": "apim-rotation",
                    "AZURE_KEY_VAULT_NAME": "kv-rotation", "BACKEND_KEY_SECRET_NAME": "backend-key",
                    "DOCS_BACKEND_KEY_SECRET_NAME": "docs-backend-key", "SPINAPP_IMAGE": "cr.example/name-api@sha256:" + "0" * 64,
                    "INGRESS_FQDN": "name-api.example.com", "INGRESS_TLS": "letsencrypt", "INGRESS_ACME_CHALLENGE": "dns01"},
            "vault": {"backend-key": [old["api"]], "docs-backend-key": [old["docs"]]},
            "secret": initial, "serving": [initial], "annotation": "initial", "refreshed": {},
            "gateway": {"backend-key": old["api"], "docs-backend-key": old["docs"]}, "events": [], "argv": [],
        }
        state_path.write_text(json.dumps(state))
        output = ""
        for credential in ("api", "docs"):
            run = subprocess.run(["bash", str(root / "infra/scripts/rotate-backend-key.sh"), credential], cwd=root,
                                 env=environment, capture_output=True, text=True, timeout=120)
            output += run.stdout + run.stderr
            if run.returncode != 0:
                report.problem(f"rotate-backend-key.sh {credential} exited {run.returncode}: {run.stderr.strip()[-600:]}")
                return
        state = json.loads(state_path.read_text())

    names = {"api": "backend-key", "docs": "docs-backend-key"}
    for number, step in enumerate(state["events"], 1):
        for credential in ("api", "docs"):
            refused = [i for i, keys in enumerate(step["serving"]) if step["gateway"][credential] not in keys[credential]]
            if refused:
                report.problem(f"event {number} ({step['what']}): the gateway's {names[credential]} is refused by serving "
                               f"configuration(s) {refused}: requests would get 401")
    final = state["events"][-1] if state["events"] else None
    for credential, name in names.items():
        new = state["vault"][name][-1]
        if new == old[credential]:
            report.problem(f"{name} was not rotated")
        if final and (final["serving"] != [final["serving"][0]] or final["serving"][0][credential] != [new]
                      or final["gateway"][credential] != new):
            report.problem(f"after rotating {name}: serving {final['serving']}, gateway {final['gateway'][credential] == new}; "
                           "expected one configuration accepting only the new key, which the gateway sends")
    rollouts = sum(1 for e in state["events"] if e["what"] == "rolling update started")
    if rollouts != 6:
        report.problem(f"{rollouts} rolling updates for two rotations, expected 3 each (add, promote, remove)")
    values = {v for versions in state["vault"].values() for v in versions}
    leaked = sum(1 for argv in state["argv"] for arg in argv if any(v in arg for v in values))
    if leaked:
        report.problem(f"{leaked} command-line argument(s) of az/kubectl/azd contained a key")
    if any(v in output for v in values):
        report.problem("the rotation script printed a key")
    report.summary = (f"rotate-backend-key.sh api and docs against fake az/kubectl/azd: {len(state['events'])} state changes, "
                      f"the gateway's key accepted by every serving pod at each, {rollouts} readiness-gated rollouts, "
                      f"{len(state['argv'])} commands with no key in their arguments or output")


# --- preprovision ---------------------------------------------------------------------------------

FIREWALL_ERROR = ("ERROR: (Forbidden) Client address is not authorized and caller is not a trusted service.\n"
                  "Client address: 198.51.100.7\nCaller: appid=...\nVault: kv-x;location=westeurope")
# name -> (azd environment, fake cloud state, expected exit status, expected environment or stderr text)
PREPROVISION_SCENARIOS: dict[str, tuple[dict[str, str], dict[str, Any], int, Any]] = {
    "first run, user": ({}, {"account_type": "user"}, 0,
                        {"AZURE_PRINCIPAL_TYPE": "User", "BACKEND_KEY_EXISTS": "false", "DOCS_BACKEND_KEY_EXISTS": "false"}),
    "re-provision, service principal": ({"AZURE_KEY_VAULT_NAME": "kv-x"},
                                        {"account_type": "servicePrincipal", "vaults": ["kv-x"],
                                         "vault": {"backend-key": ["k"], "docs-backend-key": ["d"]}}, 0,
                                        {"AZURE_PRINCIPAL_TYPE": "ServicePrincipal", "BACKEND_KEY_EXISTS": "true",
                                         "DOCS_BACKEND_KEY_EXISTS": "true"}),
    "docs key not created yet": ({"AZURE_KEY_VAULT_NAME": "kv-x"},
                                 {"account_type": "user", "vaults": ["kv-x"], "vault": {"backend-key": ["k"]}}, 0,
                                 {"BACKEND_KEY_EXISTS": "true", "DOCS_BACKEND_KEY_EXISTS": "false"}),
    "expired sign-in": ({"AZURE_KEY_VAULT_NAME": "kv-x"},
                        {"account_type": "user", "vaults": ["kv-x"], "vault": {"backend-key": ["k"]},
                         "secret_error": "ERROR: AADSTS700082: The refresh token has expired due to inactivity."}, 1,
                        "AADSTS700082"),
    "firewall": ({"AZURE_KEY_VAULT_NAME": "kv-x"},
                 {"account_type": "user", "vaults": ["kv-x"], "vault": {}, "secret_error": FIREWALL_ERROR}, 1,
                 "azd env set KEY_VAULT_ALLOWED_IPS 198.51.100.7"),
    "soft-deleted vault": ({"AZURE_KEY_VAULT_NAME": "kv-x"}, {"account_type": "user", "deleted_vaults": ["kv-x"]}, 1,
                           "az keyvault purge --name kv-x"),
    "soft-deleted API Management": ({"APIM_NAME": "apim-x", "AZURE_LOCATION": "westeurope"},
                                    {"account_type": "user", "deleted_apims": ["apim-x"]}, 1,
                                    "az apim deletedservice purge --service-name apim-x --location westeurope"),
    "no allowed addresses": ({"KEY_VAULT_ALLOWED_IPS": ""}, {"account_type": "user"}, 1, "KEY_VAULT_ALLOWED_IPS is not set"),
}


def preprovision(report: Report) -> None:
    """Runs infra/hooks/preprovision.sh against fake_cloud.py in each scenario of PREPROVISION_SCENARIOS."""
    import tempfile

    for name, (environment_values, cloud, status, expected) in PREPROVISION_SCENARIOS.items():
        with tempfile.TemporaryDirectory(prefix="preprovision-") as temp:
            root, state_path, environment = _fake_cloud(Path(temp))
            state = {"env": {}, "vault": {}, "argv": [], "events": [], **cloud}
            state_path.write_text(json.dumps(state))
            environment.update({"KEY_VAULT_ALLOWED_IPS": "203.0.113.7", **environment_values})
            run = subprocess.run(["bash", str(root / "infra/hooks/preprovision.sh")], cwd=root, env=environment,
                                 capture_output=True, text=True, timeout=60)
            written = json.loads(state_path.read_text())["env"]
        if run.returncode != status:
            report.problem(f"preprovision, {name}: exit {run.returncode}, expected {status}: {run.stderr.strip()[-300:]}")
        elif isinstance(expected, dict):
            wrong = {k: written.get(k) for k, v in expected.items() if written.get(k) != v}
            if wrong:
                report.problem(f"preprovision, {name}: azd environment {wrong}, expected {expected}")
        else:
            if expected not in run.stderr:
                report.problem(f"preprovision, {name}: stderr lacks {expected!r}: {run.stderr.strip()[-300:]}")
            if "BACKEND_KEY_EXISTS" in written:
                report.problem(f"preprovision, {name}: stopped but still set BACKEND_KEY_EXISTS={written['BACKEND_KEY_EXISTS']}")
    report.summary = (f"preprovision.sh in {len(PREPROVISION_SCENARIOS)} scenarios against fake az/azd: principal type, "
                      "only SecretNotFound means absent, soft-deleted vault/API Management and firewall refusals stop with what to run")


# --- postdeploy's certificate state -----------------------------------------------------------------


def certificate_state(report: Report) -> None:
    """postdeploy.sh with a certificate that is not ready (a resumable state) and with one that is."""
    import tempfile

    runs = {}
    for ready in (False, True):
        with tempfile.TemporaryDirectory(prefix="postdeploy-") as temp:
            root, state_path, environment = _fake_cloud(Path(temp))
            keys = [secrets.token_hex(32), secrets.token_hex(32)]
            state = {"env": {}, "vault": {"backend-key": [keys[0]], "docs-backend-key": [keys[1]]}, "secret": None,
                     "serving": [], "annotation": None, "gateway": {"backend-key": keys[0], "docs-backend-key": keys[1]},
                     "refreshed": {}, "events": [], "argv": [], "certificate_ready": ready}
            state_path.write_text(json.dumps(state))
            environment.update({
                "AZURE_ENV_NAME": "postdeploy", "AZURE_RESOURCE_GROUP": "rg", "AZURE_AKS_CLUSTER_NAME": "aks",
                "SPINAPP_IMAGE": "cr.example/name-api@sha256:" + "0" * 64, "AZURE_KEY_VAULT_NAME": "kv-x",
                "BACKEND_KEY_SECRET_NAME": "backend-key", "DOCS_BACKEND_KEY_SECRET_NAME": "docs-backend-key",
                "INGRESS_FQDN": "name-api.example.com", "INGRESS_TLS": "letsencrypt", "INGRESS_ACME_CHALLENGE": "dns01",
                "DNS_ZONE_NAME": "example.com", "APIM_GATEWAY_URL": "https://apim.invalid", "APIM_SUBSCRIPTION_ID": "/s",
                "CERT_WAIT_SECONDS": "0", "SMOKE_TEST": "false"})
            run = subprocess.run(["bash", str(root / "infra/hooks/postdeploy.sh")], cwd=root, env=environment,
                                 capture_output=True, text=True, timeout=60)
            runs[ready] = (run, json.loads(state_path.read_text()))
    run, state = runs[False]
    if run.returncode != 0:
        report.problem(f"postdeploy with a certificate not ready exited {run.returncode} (a failed deployment): {run.stderr[-300:]}")
    for text in ("azd hooks run postdeploy", "_acme-challenge TXT record", "Issuing certificate", "challenges: pending"):
        if text not in run.stderr:
            report.problem(f"postdeploy with a certificate not ready does not say {text!r}")
    if state["env"].get("INGRESS_CERTIFICATE_READY") != "false":
        report.problem("postdeploy with a certificate not ready does not record INGRESS_CERTIFICATE_READY=false")
    if not state["serving"]:
        report.problem("postdeploy with a certificate not ready did not deploy the SpinApp first")
    run, state = runs[True]
    if run.returncode != 0 or state["env"].get("INGRESS_CERTIFICATE_READY") != "true":
        report.problem(f"postdeploy with a ready certificate: exit {run.returncode}, "
                       f"INGRESS_CERTIFICATE_READY={state['env'].get('INGRESS_CERTIFICATE_READY')}: {run.stderr[-300:]}")
    report.summary = ("postdeploy.sh against the stand-ins: a certificate not ready ends the hook successfully with what it "
                      "waits for and `azd hooks run postdeploy`; a ready one continues")


# --- predeploy's registry login ------------------------------------------------------------------


def registry_login(report: Report) -> None:
    """predeploy.sh against the stand-ins: `spin registry login --password-stdin` gets the token as
    az issued it, without the newline `az --output tsv` appends (Spin 4.0.2 reads stdin whole and
    does not trim it); the token is never an argument or printed; the image is pinned by digest."""
    import tempfile

    token = "eyJ" + secrets.token_urlsafe(48)
    with tempfile.TemporaryDirectory(prefix="predeploy-") as temp:
        root, state_path, environment = _fake_cloud(Path(temp))
        state_path.write_text(json.dumps({"env": {}, "vault": {}, "argv": [], "events": [], "registry_token": token}))
        environment.update({"AZURE_CONTAINER_REGISTRY_NAME": "crx", "AZURE_CONTAINER_REGISTRY_ENDPOINT": "crx.azurecr.io",
                            "IMAGE_TAG": "test"})
        run = subprocess.run(["bash", str(root / "infra/hooks/predeploy.sh")], cwd=root, env=environment,
                             capture_output=True, text=True, timeout=60)
        state = json.loads(state_path.read_text())
    if run.returncode != 0:
        report.problem(f"predeploy.sh exited {run.returncode}: {run.stderr.strip()[-300:]}")
        return
    password = state.get("registry_password")
    if password != token:
        shown = "the token plus " + repr(password[len(token):]) if password and password.startswith(token) else "something else"
        report.problem(f"spin registry login --password-stdin received {shown}, not the token alone")
    if any(token in arg for argv in state["argv"] for arg in argv) or token in run.stdout + run.stderr:
        report.problem("the registry token appeared in a command-line argument or the output")
    image = state["env"].get("SPINAPP_IMAGE")
    if image != "crx.azurecr.io/name-api@sha256:" + "ab" * 32:
        report.problem(f"SPINAPP_IMAGE is {image!r}, not the pushed digest")
    report.summary = "predeploy.sh against the stand-ins: the registry token reaches spin on stdin without a newline, never as an argument; image pinned by digest"


CHECKS: dict[str, Callable[[Report], None]] = {
    "runtime-config": runtime_config,
    "spinapp-config": spinapp_config,
    "runtime-class": runtime_class,
    "secret-handling": secret_handling,
    "gateway": gateway,
    "rotation": rotation,
    "preprovision": preprovision,
    "certificate-state": certificate_state,
    "registry-login": registry_login,
}


def selftest_cases(case: Callable[..., Any], edit: Callable[..., Any]) -> list[Any]:
    """Breakages tests/infra/selftest.py applies to a copy, each caught by one check above."""
    return [
        case("runtime-config-env-provider", "the committed runtime configuration on the environment provider",
             "runtime-config", 'of type "static"',
             edit("infra/spin/runtime-config.toml", '\ntype = "static"\n', '\ntype = "env"\n')),
        case("runtime-config-renamed", "the generator writing a misspelled variable", "runtime-config", "backend_key_nxt",
             edit("infra/hooks/lib.sh", "printf 'backend_key_next = ", "printf 'backend_key_nxt = ")),
        case("runtime-config-committed-key", "a key committed in runtime-config.toml", "runtime-config",
             "a committed file must never carry a key",
             edit("infra/spin/runtime-config.toml", 'backend_key = ""', 'backend_key = "' + "ab" * 32 + '"')),
        case("spinapp-variables", "the SpinApp taking a variable through the environment", "spinapp-config", "`variables`",
             edit("infra/k8s/app/spinapp.yaml", "  runtimeConfig:\n",
                  "  variables:\n    - name: api_base\n      value: /api\n  runtimeConfig:\n")),
        case("spinapp-no-runtime-config", "the SpinApp loading another Secret", "spinapp-config", "loadFromSecret",
             edit("infra/k8s/app/spinapp.yaml", "loadFromSecret: name-api-runtime-config", "loadFromSecret: name-api-config")),
        case("runtime-class-any-spin-node", "the RuntimeClass selecting spin=true nodes", "runtime-class", "provisioned",
             edit("infra/k8s/platform/runtime-class.yaml", "    spin-v2: provisioned", '    spin: "true"')),
        case("secret-client-side-apply", "a Secret applied client-side", "secret-handling", "last-applied",
             edit("infra/hooks/lib.sh", "    apply_server_side --filename -\n  # The Secret of earlier",
                  "    kubectl apply --filename -\n  # The Secret of earlier")),
        case("secret-logged", "a hook logging a key", "secret-handling", "(a secret) is printed",
             edit("infra/hooks/lib.sh", '  docs="$(kv_secret_get "$DOCS_BACKEND_KEY_SECRET_NAME" value)"\n',
                  '  docs="$(kv_secret_get "$DOCS_BACKEND_KEY_SECRET_NAME" value)"\n  log "docs key: $docs"\n')),
        case("secret-annotation", "a key in a pod annotation", "secret-handling", "annotations carry versions",
             edit("infra/k8s/app/spinapp.yaml", 'name-api/config-version: "${CONFIG_VERSION}"',
                  'name-api/config-version: "${CONFIG_VERSION}"\n    name-api/key: "${BACKEND_KEY}"')),
        case("gateway-public-backend", "the public API injecting the api credential", "gateway", "name-api-docs-backend",
             edit("infra/apim/policies/public.xml", 'backend-id="name-api-docs-backend"', 'backend-id="name-api-backend"')),
        case("gateway-traefik-slash", "Traefik allowing %2F", "gateway", "allowEncodedSlash",
             edit("infra/helm/traefik-values.yaml", "allowEncodedSlash: false", "allowEncodedSlash: true")),
        case("rotation-without-add", "a rotation that switches the gateway before the pods accept the new key",
             "rotation", "requests would get 401",
             edit("infra/scripts/rotate-backend-key.sh", 'roll "1/4 add"', ': skipped')),
        case("rotation-key-as-argument", "a key passed to az as an argument", "rotation", "contained a key",
             edit("infra/hooks/lib.sh", 'az keyvault secret set --vault-name "$AZURE_KEY_VAULT_NAME" --name "$1" --file /dev/stdin',
                  'az keyvault secret set --vault-name "$AZURE_KEY_VAULT_NAME" --name "$1" --value "$(cat)"')),
        case("preprovision-any-error-absent", "every Key Vault error counted as \"no secret\"", "preprovision",
             "expired sign-in: exit 0, expected 1",
             edit("infra/hooks/lib.sh", "  if grep -q 'SecretNotFound' \"$errors\"; then\n    rm -f \"$errors\"\n    return 1",
                  "  if true; then\n    rm -f \"$errors\"\n    return 1")),
        case("preprovision-always-user", "the principal type fixed to User", "preprovision", "'ServicePrincipal'",
             edit("infra/hooks/preprovision.sh", 'servicePrincipal) principal_type="ServicePrincipal"',
                  'servicePrincipal) principal_type="User"')),
        case("certificate-not-ready-fails", "a certificate not ready failing the deployment", "certificate-state",
             "a failed deployment",
             edit("infra/hooks/postdeploy.sh", "MSG\n    exit 0\n", "MSG\n    exit 1\n")),
        case("registry-token-newline", "az's token piped to spin with its newline", "registry-login", "the token plus '\\n'",
             edit("infra/hooks/predeploy.sh", "printf '%s' \"$registry_token\" |", "printf '%s\\n' \"$registry_token\" |")),
        case("gateway-public-operation", "the public API declaring /generate_name", "gateway", "outside the docs routes",
             edit("infra/apim/apis/public.json", '"urlTemplate": "/openapi.json"', '"urlTemplate": "/generate_name"')),
    ]
