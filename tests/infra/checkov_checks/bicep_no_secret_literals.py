"""CKV_NAMEAPI_5: no secret literal in Bicep.

Fails a resource with a secret-looking property (password, secret, token, key, ...) whose value is
written in the file, and (checked once per file, on its first resource) an @secure() parameter
with a literal default. Secrets come from generated parameters, Key Vault or references.
"""

from __future__ import annotations

from typing import Any

from checkov.bicep.checks.resource.base_resource_check import BaseResourceCheck
from checkov.common.models.enums import CheckCategories, CheckResult

from _bicep import file_of, literal_secret_properties, secure_parameters_with_literal_default

_reported_files: set[str] = set()


class BicepNoSecretLiterals(BaseResourceCheck):
    def __init__(self) -> None:
        super().__init__(
            name="No secret literal in Bicep (secret-like properties, @secure() parameter defaults)",
            id="CKV_NAMEAPI_5",
            categories=(CheckCategories.SECRETS,),
            supported_resources=("*",),
        )

    def scan_entity_conf(self, conf: dict[str, Any], entity_type: str) -> CheckResult:  # type: ignore[override]
        path = file_of(self.entity_path)
        problems = literal_secret_properties(path, conf["__start_line__"], conf["__end_line__"])
        if path not in _reported_files:
            _reported_files.add(path)
            problems += [f"secure parameter with a literal default, {p}" for p in secure_parameters_with_literal_default(path)]
        if problems:
            self.details.extend(problems)
            return CheckResult.FAILED
        return CheckResult.PASSED

    def scan_resource_conf(self, conf: dict[str, Any]) -> CheckResult:
        return CheckResult.PASSED


check = BicepNoSecretLiterals()
