"""Host filters: the base class and the registry.

A filter is a small class with one concern: `host_passes(host, spec)` answers "may this host
take one instance of this request?", and `explain(host, spec)` says why not, as a phrase about
the host that reads after "1 host ..." ("is down", "is not in availability zone az1"); the pass
groups identical phrases into its summary ("ComputeFilter: 2 hosts are down"), so a phrase
should not name the host. Filters read `HostState` and `RequestSpec` only: never the ORM.

Register with `@register_filter`; enable and order with
``COMPUTECLOUD["SCHEDULER"]["ENABLED_FILTERS"]`` (registered names, or dotted paths for
third-party classes). The built-in modules are imported by `SchedulerConfig.ready()`.
How to write one: docs/scheduler.md.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar, TypeVar

from django.utils.module_loading import import_string

if TYPE_CHECKING:
    from apps.scheduler.host_state import HostState
    from apps.scheduler.request_spec import RequestSpec


class BaseHostFilter:
    """Base of every filter."""

    # The name operators list in ENABLED_FILTERS (and the summary prints).
    name: ClassVar[str] = ""
    # True when the answer cannot change while one request's instances are placed (it does
    # not depend on what the pass consumed): the pass then asks once per host and request.
    run_once_per_request: ClassVar[bool] = False

    def applies_to(self, spec: RequestSpec) -> bool:
        """False when the request does not concern this filter (every host would pass)."""
        return True

    def host_passes(self, host: HostState, spec: RequestSpec) -> bool:
        raise NotImplementedError

    def explain(self, host: HostState, spec: RequestSpec) -> str:
        """Why `host` did not pass, as a phrase after "1 host ..."."""
        return "did not pass"


FILTERS: dict[str, type[BaseHostFilter]] = {}

F = TypeVar("F", bound=type[BaseHostFilter])


def register_filter(cls: F) -> F:
    """Class decorator: make the filter available by its `name` (default: class name)."""
    if not cls.name:
        cls.name = cls.__name__
    FILTERS[cls.name] = cls
    return cls


def resolve_filter(name: str) -> type[BaseHostFilter]:
    """The filter class for a registered name or a dotted path; ValueError if neither."""
    if name in FILTERS:
        return FILTERS[name]
    if "." in name:
        try:
            cls = import_string(name)
        except ImportError as exc:
            raise ValueError(f"cannot import filter {name}: {exc}") from exc
        if isinstance(cls, type) and issubclass(cls, BaseHostFilter):
            if not cls.name:
                cls.name = cls.__name__
            return cls
        raise ValueError(f"{name} is not a BaseHostFilter subclass")
    raise ValueError(f"unknown scheduler filter {name!r}")


def load_filters(names: list[str]) -> list[BaseHostFilter]:
    return [resolve_filter(name)() for name in names]
