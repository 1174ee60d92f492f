"""CKV_NAMEAPI_6: no @secure() parameter with a literal default, in any Bicep file.

A parameter check (checkov runs it on every parameter of every file, whether or not the file
declares a resource). checkov's own CKV_AZURE_131 cannot tell `= 'literal'` from `= someExpression`
(pycep-parser renders both alike), so the default is judged on tree-sitter-bicep's syntax tree:
a string without interpolation or a number is a literal; newGuid() and other expressions are not.
"""

from __future__ import annotations

from typing import Any

from checkov.bicep.checks.param.base_param_check import BaseParamCheck
from checkov.common.models.enums import CheckCategories, CheckResult

from _bicep import file_of, secure_parameters_with_literal_default


class BicepSecureParameterDefaults(BaseParamCheck):
    def __init__(self) -> None:
        super().__init__(
            name="No @secure() Bicep parameter with a literal default",
            id="CKV_NAMEAPI_6",
            categories=(CheckCategories.SECRETS,),
            supported_type=("string", "object"),
        )

    def scan_param_conf(self, conf: Any) -> CheckResult:
        if not isinstance(conf, dict) or not isinstance(conf.get("decorators"), list):
            self.details.append(f"cannot read the parameter from checkov's configuration ({type(conf).__name__})")
            return CheckResult.FAILED
        if not any(isinstance(d, dict) and d.get("type") == "secure" for d in conf["decorators"]):
            return CheckResult.UNKNOWN
        first, last = conf.get("__start_line__"), conf.get("__end_line__")
        if not isinstance(first, int) or not isinstance(last, int):
            self.details.append("cannot read the parameter's lines from checkov's configuration")
            return CheckResult.FAILED
        path = file_of(self.entity_path)
        found = [(line, name) for line, name in secure_parameters_with_literal_default(path) if first <= line <= last]
        if found:
            self.details.extend(f"secure parameter {name} (line {line}) has a literal default" for line, name in found)
            return CheckResult.FAILED
        return CheckResult.PASSED


check = BicepSecureParameterDefaults()
