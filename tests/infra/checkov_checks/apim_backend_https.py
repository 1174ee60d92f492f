"""CKV_NAMEAPI_3: API Management backends are called over HTTPS.

The backend URL must be a string starting with https:// (an interpolated host is fine). The
ingress in front of the SpinApp terminates TLS (cert-manager), so the backend key never crosses a
network in clear text; plain http would need a documented exception here.
"""

from __future__ import annotations

from typing import Any

from checkov.bicep.checks.resource.base_resource_check import BaseResourceCheck
from checkov.common.models.enums import CheckCategories, CheckResult

from _bicep import resource_config


class ApimBackendHttps(BaseResourceCheck):
    def __init__(self) -> None:
        super().__init__(
            name="API Management backends use https",
            id="CKV_NAMEAPI_3",
            categories=(CheckCategories.ENCRYPTION,),
            supported_resources=("Microsoft.ApiManagement/service/backends",),
        )

    def scan_resource_conf(self, conf: dict[str, Any]) -> CheckResult:
        body = resource_config(conf)
        properties = body.get("properties") if isinstance(body, dict) else None
        if not isinstance(properties, dict):
            self.details.append(f"cannot read the backend's properties ({type(properties).__name__}): "
                                "write them as an object literal")
            return CheckResult.FAILED
        url = properties.get("url")
        if isinstance(url, str) and url.lower().startswith("https://"):
            return CheckResult.PASSED
        self.details.append(f"backend url is {url!r}: it must be a string starting with https://")
        return CheckResult.FAILED


check = ApimBackendHttps()
