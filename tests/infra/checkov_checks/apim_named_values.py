"""CKV_NAMEAPI_1: API Management named values hold no plain-text secret.

A named value declared secret must be Key Vault-backed (properties.keyVault), and a named value
whose name looks like a secret (key, secret, password, token, ...) must be both secret and Key
Vault-backed. Values computed from declarations (the loop in infra/modules/apim.bicep) are judged
through the declarations themselves by CKV_NAMEAPI_2.
"""

from __future__ import annotations

from typing import Any

from checkov.bicep.checks.resource.base_resource_check import BaseResourceCheck
from checkov.common.models.enums import CheckCategories, CheckResult

from _bicep import looks_secret, resource_config


class ApimNamedValueNoPlainSecret(BaseResourceCheck):
    def __init__(self) -> None:
        super().__init__(
            name="API Management named values: secrets are Key Vault-backed, never plain text",
            id="CKV_NAMEAPI_1",
            categories=(CheckCategories.SECRETS,),
            supported_resources=("Microsoft.ApiManagement/service/namedValues",),
        )

    def scan_resource_conf(self, conf: dict[str, Any]) -> CheckResult:
        body = resource_config(conf)
        properties = body.get("properties") if isinstance(body, dict) else None
        if not isinstance(properties, dict):
            self.details.append(f"cannot read the named value's properties ({type(properties).__name__}): "
                                "write them as an object literal")
            return CheckResult.FAILED
        key_vault = properties.get("keyVault")
        secret = properties.get("secret")
        names = [n for n in (body.get("name"), properties.get("displayName")) if isinstance(n, str)]
        if secret is True and not key_vault:
            self.details.append("secret: true without keyVault: the value would be stored in API Management as plain input")
            return CheckResult.FAILED
        if any(looks_secret(n) for n in names) and (secret is False or not key_vault):
            self.details.append(f"{names[0]} looks like a secret: declare it secret and Key Vault-backed")
            return CheckResult.FAILED
        return CheckResult.PASSED


check = ApimNamedValueNoPlainSecret()
