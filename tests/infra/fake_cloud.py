"""Stand-ins for az, azd, kubectl, kubelogin and spin, so that deploy_checks.py can run the hooks and
infra/scripts/rotate-backend-key.sh offline (no Azure, no cluster, no registry): each is this file,
invoked as `fake_cloud.py <tool> <args...>` by a two-line wrapper on PATH.

They answer exactly the calls the hooks make, keep their state in the JSON file $FAKE_CLOUD_STATE
(Key Vault secrets with versions, the azd environment, the runtime config Secret, the serving pods'
configurations, API Management's named values), record every command line (to prove no secret is
ever an argument), and fail loudly on any call they do not model. The pods model a rolling update:
after an apply of the SpinApp the old and the new configuration serve side by side until
`kubectl rollout status` returns, and API Management switches key when refreshSecret is called.
"""

from __future__ import annotations

import base64
import datetime
import fcntl
import json
import os
import re
import sys
import tomllib
from typing import Any

STATE = os.environ["FAKE_CLOUD_STATE"]
# Commands of one pipeline run at the same time: stdin is read before the state lock is taken (the
# writer upstream may need the lock to produce it), then load-handle-save runs under the lock.
STDIN = ""
NAMED_VALUE_SECRETS = {"backend-key": "backend-key", "docs-backend-key": "docs-backend-key"}


def load() -> dict[str, Any]:
    with open(STATE, encoding="utf-8") as file:
        return json.load(file)


def save(state: dict[str, Any]) -> None:
    with open(STATE, "w", encoding="utf-8") as file:
        json.dump(state, file, indent=1)


def option(args: list[str], name: str) -> str | None:
    return args[args.index(name) + 1] if name in args else None


def fail(message: str) -> None:
    print(f"fake_cloud: {message}", file=sys.stderr)
    sys.exit(2)


def now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f0Z")


def accepted(config: str | None) -> dict[str, list[str]]:
    """The keys a runtime configuration accepts, per credential."""
    if config is None:
        return {"api": [], "docs": []}
    values = tomllib.loads(config)["variables_provider"][0]["values"]
    return {
        "api": [v for v in (values["backend_key"], values["backend_key_next"]) if v],
        "docs": [v for v in (values["docs_backend_key"], values["docs_backend_key_next"]) if v],
    }


def event(state: dict[str, Any], what: str) -> None:
    """Records who accepts what and what the gateway sends, after every change."""
    state["events"].append({
        "what": what,
        "serving": [accepted(c) for c in state["serving"]],
        "gateway": {"api": state["gateway"]["backend-key"], "docs": state["gateway"]["docs-backend-key"]},
    })


def listed(state: dict[str, Any], collection: str, args: list[str]) -> None:
    """`az ... list --query "length([?name=='NAME'])"`: how many of the collection carry that name."""
    match = re.fullmatch(r"length\(\[\?name=='([^']+)'\]\)", option(args, "--query") or "")
    if not match:
        fail(f"az {' '.join(args)}: only length([?name=='...']) queries are modelled")
    print(1 if match.group(1) in state.get(collection, []) else 0)


def az(state: dict[str, Any], args: list[str]) -> None:
    if args[:2] == ["account", "show"] and option(args, "--query") == "user.type":
        print(state["account_type"])
        return
    for prefix, collection in ((["keyvault", "list"], "vaults"), (["keyvault", "list-deleted"], "deleted_vaults"),
                               (["apim", "list"], "apims"), (["apim", "deletedservice", "list"], "deleted_apims")):
        if args[:len(prefix)] == prefix and args[len(prefix)].startswith("-"):
            listed(state, collection, args)
            return
    if args[:4] == ["network", "dns", "zone", "show"]:
        return
    if args[:2] == ["acr", "login"] and "--expose-token" in args and option(args, "--query") == "accessToken":
        print(state["registry_token"])  # with the newline `--output tsv` ends it with
        return
    if args[:2] == ["keyvault", "secret"]:
        name = option(args, "--name")
        versions = state["vault"].get(name)
        if state.get("secret_error"):
            print(state["secret_error"], file=sys.stderr)
            sys.exit(1)
        if args[2] == "show":
            if not versions:
                print(f"ERROR: (SecretNotFound) A secret with (name/id) {name} was not found in this key vault.", file=sys.stderr)
                sys.exit(1)
            query = option(args, "--query")
            if query == "id":
                print(f"https://{option(args, '--vault-name')}.vault.azure.net/secrets/{name}/v{len(versions)}")
            elif query == "value":
                print(versions[-1])
            else:
                fail(f"az keyvault secret show --query {query}")
            return
        if args[2] == "set" and (option(args, "--file") == "/dev/stdin" or "--value" in args):
            value = option(args, "--value") or STDIN
            if not value or "\n" in value:
                fail(f"az keyvault secret set {name}: empty value or a newline in it")
            state["vault"].setdefault(name, []).append(value)
            return
    if args[:1] == ["rest"]:
        url = option(args, "--url") or ""
        match = re.search(r"/namedValues/([^/?]+)(/refreshSecret)?\?", url)
        if not match:
            fail(f"az rest {url}")
        named_value, refresh = match.group(1), match.group(2)
        if refresh and option(args, "--method") == "post":
            state["gateway"][named_value] = state["vault"][NAMED_VALUE_SECRETS[named_value]][-1]
            state["refreshed"][named_value] = now()
            event(state, f"API Management refreshed {named_value}")
            return
        if option(args, "--method") == "get":
            print(f"Success {state['refreshed'].get(named_value, '1970-01-01T00:00:00Z')}")
            return
    if args[:2] == ["aks", "get-credentials"]:
        return
    fail("az " + " ".join(args))


def kubectl(state: dict[str, Any], args: list[str]) -> None:
    import yaml

    if args[:3] == ["create", "secret", "generic"]:
        source = next(a for a in args if a.startswith("--from-file="))
        key, path = source.removeprefix("--from-file=").split("=", 1)
        if path != "/dev/stdin" or "--dry-run=client" not in args:
            fail("kubectl create secret: only --from-file=KEY=/dev/stdin --dry-run=client is modelled")
        data = base64.b64encode(STDIN.encode()).decode()
        print(yaml.safe_dump({"apiVersion": "v1", "kind": "Secret", "metadata": {
            "name": args[3], "namespace": option(args, "--namespace")}, "data": {key: data}}))
        return
    if args[:1] == ["apply"]:
        if "--server-side" not in args:
            fail("kubectl apply without --server-side")
        source = option(args, "--filename")
        text = STDIN if source == "-" else open(source, encoding="utf-8").read()
        for document in yaml.safe_load_all(text):
            if not document:
                continue
            if document["kind"] == "Secret" and document["metadata"]["name"] == "name-api-runtime-config":
                state["secret"] = base64.b64decode(document["data"]["runtime-config.toml"]).decode()
            if document["kind"] == "SpinApp":
                version = document["spec"]["podAnnotations"]["name-api/config-version"]
                if version != state["annotation"]:
                    state["annotation"] = version
                    # New pods start with the Secret as it is now; old ones keep serving meanwhile.
                    state["serving"] = state["serving"][-1:] + [state["secret"]]
                    event(state, "rolling update started")
        return
    namespaced = args[2:] if args[:1] == ["--namespace"] else args
    if namespaced[:2] == ["rollout", "status"]:
        state["serving"] = state["serving"][-1:]
        event(state, "rollout complete")
        return
    if namespaced[:3] == ["get", "deployment", "name-api"]:
        if option(namespaced, "--output"):
            print(state["annotation"] or "")
        return
    if namespaced[:2] == ["delete", "secret"]:
        return
    if namespaced[:3] == ["get", "certificate", "name-api-tls"]:
        query = option(namespaced, "--output") or ""
        if query.endswith('.status}'):
            print("True" if state.get("certificate_ready") else "False")
        else:
            print("certificate: DoesNotExist: Issuing certificate as Secret does not exist")
        return
    if namespaced[:2] in (["get", "orders.acme.cert-manager.io"], ["get", "challenges.acme.cert-manager.io"]):
        print(f"{namespaced[1].split('.')[0]}: pending")
        return
    fail("kubectl " + " ".join(args))


def azd(state: dict[str, Any], args: list[str]) -> None:
    if args[:2] == ["env", "get-values"]:
        for name, value in state["env"].items():
            print(f'{name}="{value}"')
        return
    if args[:2] == ["env", "set"]:
        state["env"][args[2]] = args[3]
        return
    fail("azd " + " ".join(args))


def spin(state: dict[str, Any], args: list[str]) -> None:
    if args[:1] == ["build"]:
        return
    if args[:2] == ["registry", "login"] and "--password-stdin" in args:
        state["registry_password"] = STDIN  # kept as read: Spin 4.0.2 does not trim it
        return
    if args[:2] == ["registry", "push"]:
        print(f"Pushing app to the Registry...\nPushed with digest sha256:{'ab' * 32}")
        return
    fail("spin " + " ".join(args))


def main() -> None:
    global STDIN
    tool, args = sys.argv[1], sys.argv[2:]
    reads_stdin = any("/dev/stdin" in a for a in args) or "--password-stdin" in args or option(args, "--filename") == "-"
    if reads_stdin:
        STDIN = sys.stdin.read()
    with open(STATE + ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        state = load()
        state["argv"].append([tool, *args])
        {"az": az, "kubectl": kubectl, "azd": azd, "spin": spin, "kubelogin": lambda s, a: None}[tool](state, args)
        save(state)


if __name__ == "__main__":
    main()
