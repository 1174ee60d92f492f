"""CKV_NAMEAPI_5: no secret literal in a Bicep resource.

Fails a resource with a secret-looking property (password, secret, token, key, ...) whose value is
written in the file. Every resource of every file is scanned; a resource whose position checkov
does not report cannot be scanned and fails. @secure() parameter defaults are CKV_NAMEAPI_6.
"""

from __future__ import annotations

from typing import Any

from checkov.bicep.checks.resource.base_resource_check import BaseResourceCheck
from checkov.common.models.enums import CheckCategories, CheckResult

from _bicep import file_of, literal_secret_properties


class BicepNoSecretLiterals(BaseResourceCheck):
    def __init__(self) -> None:
        super().__init__(
            name="No secret literal in a Bicep resource (secret-like property names)",
            id="CKV_NAMEAPI_5",
            categories=(CheckCategories.SECRETS,),
            supported_resources=("*",),
        )

    def scan_entity_conf(self, conf: dict[str, Any], entity_type: str) -> CheckResult:  # type: ignore[override]
        path = file_of(self.entity_path)
        first, last = (conf.get("__start_line__"), conf.get("__end_line__")) if isinstance(conf, dict) else (None, None)
        if not isinstance(first, int) or not isinstance(last, int):
            self.details.append(f"cannot read the resource's lines from checkov's configuration ({type(conf).__name__})")
            return CheckResult.FAILED
        problems = literal_secret_properties(path, first, last)
        if problems:
            self.details.extend(problems)
            return CheckResult.FAILED
        return CheckResult.PASSED

    def scan_resource_conf(self, conf: dict[str, Any]) -> CheckResult:
        return CheckResult.PASSED


check = BicepNoSecretLiterals()
