"""CKV_NAMEAPI_2 and CKV_NAMEAPI_4: the gateway declarations in infra/apim/ (JSON).

CKV_NAMEAPI_2 (named-values.json): a secret named value is Key Vault-backed (keyVaultSecretName)
and carries no value; a secret-looking name must be secret.
CKV_NAMEAPI_4 (apis/*.json): the `api` API (path "api") requires a subscription, and every API
is HTTPS only.
"""

from __future__ import annotations

from typing import Any

from checkov.common.models.enums import CheckCategories, CheckResult
from checkov.json_doc.base_json_check import BaseJsonCheck
from checkov.json_doc.enums import BlockType

from _bicep import looks_secret


def _entries(conf: Any) -> list[Any] | None:
    """The entries of a top-level JSON array; None when the shape is not one."""
    # checkov hands a top-level JSON array over as {"__startline__", ..., "value": [...]} or as a list.
    if isinstance(conf, list):
        return conf
    if isinstance(conf, dict) and isinstance(conf.get("value"), list):
        return conf["value"]
    return None


class NamedValueDeclarations(BaseJsonCheck):
    def __init__(self) -> None:
        super().__init__(
            name="Named value declarations: secrets are Key Vault-backed and have no value",
            id="CKV_NAMEAPI_2",
            categories=(CheckCategories.SECRETS,),
            supported_entities=("*",),
            block_type=BlockType.DOCUMENT,
        )

    def scan_entity_conf(self, conf: Any, entity_type: str) -> CheckResult:  # type: ignore[override]
        if not self.entity_path.replace("\\", "/").split(":", 1)[0].endswith("apim/named-values.json"):
            return CheckResult.UNKNOWN
        entries = _entries(conf)
        if entries is None:
            self.details.append(f"cannot read named-values.json: a JSON array of objects is expected, not {type(conf).__name__}")
            return CheckResult.FAILED
        if not entries:
            self.details.append("named-values.json declares no named value")
            return CheckResult.FAILED
        problems = []
        for entry in entries:
            if not isinstance(entry, dict):
                problems.append(f"entry {entry!r} is not an object")
                continue
            name = str(entry.get("name"))
            if entry.get("secret") is True and (not entry.get("keyVaultSecretName") or "value" in entry):
                problems.append(f"{name}: secret named values need keyVaultSecretName and no value")
            if looks_secret(name) and entry.get("secret") is not True:
                problems.append(f"{name}: looks like a secret, declare it secret and Key Vault-backed")
        if problems:
            self.details.extend(problems)
            return CheckResult.FAILED
        return CheckResult.PASSED


class ApiDeclarations(BaseJsonCheck):
    def __init__(self) -> None:
        super().__init__(
            name="API declarations: the api API requires a subscription; HTTPS only",
            id="CKV_NAMEAPI_4",
            categories=(CheckCategories.IAM,),
            supported_entities=("*",),
            block_type=BlockType.DOCUMENT,
        )

    def scan_entity_conf(self, conf: Any, entity_type: str) -> CheckResult:  # type: ignore[override]
        if "/apim/apis/" not in self.entity_path.replace("\\", "/").split(":", 1)[0]:
            return CheckResult.UNKNOWN
        if not isinstance(conf, dict):
            self.details.append("an API declaration is a JSON object")
            return CheckResult.FAILED
        problems = []
        if conf.get("path") == "api" and conf.get("subscriptionRequired") is not True:
            problems.append("the api API (path 'api') must set subscriptionRequired: true")
        if conf.get("protocols") != ["https"]:
            problems.append(f"{conf.get('name')}: protocols must be [\"https\"], not {conf.get('protocols')!r}")
        if problems:
            self.details.extend(problems)
            return CheckResult.FAILED
        return CheckResult.PASSED


named_values_check = NamedValueDeclarations()
apis_check = ApiDeclarations()
