"""System checks: the scheduler settings name filters and weighers that exist.

Run by ``manage.py check`` and at every process start; an unknown name is an error, so a typo
in ENABLED_FILTERS stops the deployment instead of silently scheduling without that filter.
"""

from typing import Any

from django.core.checks import CheckMessage, Error, register

from apps.scheduler.filters import resolve_filter
from apps.scheduler.weighers import resolve_weigher
from computecloud.conf import cc_settings


@register("scheduler")
def check_scheduler_settings(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    errors: list[CheckMessage] = []
    conf = cc_settings.SCHEDULER
    for name in conf.get("ENABLED_FILTERS", []):
        try:
            resolve_filter(name)
        except ValueError as exc:
            errors.append(
                Error(
                    str(exc),
                    hint="Use a registered filter name or the dotted path of a BaseHostFilter.",
                    id="scheduler.E001",
                )
            )
    weigher_names = list(conf.get("WEIGHERS", []))
    for name in weigher_names:
        try:
            resolve_weigher(name)
        except ValueError as exc:
            errors.append(
                Error(
                    str(exc),
                    hint="Use a registered weigher name or the dotted path of a BaseHostWeigher.",
                    id="scheduler.E002",
                )
            )
    for name, value in conf.get("WEIGHER_MULTIPLIERS", {}).items():
        if not isinstance(value, int | float):
            errors.append(Error(f"multiplier of {name} is not a number", id="scheduler.E003"))
    for key in ("HOST_SUBSET_SIZE", "MAX_ATTEMPTS"):
        value = conf.get(key, 1)
        if not isinstance(value, int) or value < 1:
            errors.append(Error(f"SCHEDULER[{key!r}] must be an integer >= 1", id="scheduler.E004"))
    limit = conf.get("MAX_CANDIDATES", 0)
    if not isinstance(limit, int) or limit < 0:
        errors.append(
            Error("SCHEDULER['MAX_CANDIDATES'] must be an integer >= 0", id="scheduler.E005")
        )
    return errors
