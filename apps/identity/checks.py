"""System checks: policy overrides must name rules that exist (a typo would otherwise surface
as a 500 on the first request that needs the rule)."""

from typing import Any

from django.core.checks import CheckMessage, Error, register

from apps.identity.policy import RULES
from computecloud.conf import cc_settings


@register()
def check_policy_overrides(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    errors: list[CheckMessage] = []
    overrides: dict[str, str] = cc_settings.POLICY_OVERRIDES
    for action, rule in overrides.items():
        if rule not in RULES:
            errors.append(
                Error(
                    f"COMPUTECLOUD['POLICY_OVERRIDES'][{action!r}] names unknown rule {rule!r}.",
                    hint=f"Use one of: {', '.join(sorted(RULES))}.",
                    id="identity.E001",
                )
            )
    return errors
