"""Host weighers: the base class and the registry.

A weigher returns a number for a host (`weigh(host, spec)`); the pass normalises each
weigher's numbers over the hosts being weighed to [0, 1] (all equal → all 0), multiplies by the
weigher's multiplier and adds them up; the highest total wins (Nova's nova/weights.py). A
positive multiplier prefers hosts with more of the quantity, a negative one fewer.

Register with `@register_weigher`; enable with ``COMPUTECLOUD["SCHEDULER"]["WEIGHERS"]``,
multipliers in ``["WEIGHER_MULTIPLIERS"]`` by name (missing → the class's
`default_multiplier`). Weighers read `HostState` and `RequestSpec` only: never the ORM.
How to write one: docs/scheduler.md.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar, TypeVar

from django.utils.module_loading import import_string

from computecloud.conf import cc_settings

if TYPE_CHECKING:
    from apps.scheduler.host_state import HostState
    from apps.scheduler.request_spec import RequestSpec


class BaseHostWeigher:
    """Base of every weigher."""

    name: ClassVar[str] = ""
    default_multiplier: ClassVar[float] = 1.0

    def applies_to(self, spec: RequestSpec) -> bool:
        """False when the weigher would give every host the same number for this request."""
        return True

    def weigh(self, host: HostState, spec: RequestSpec) -> float:
        raise NotImplementedError

    @property
    def multiplier(self) -> float:
        multipliers: dict[str, float] = cc_settings.SCHEDULER.get("WEIGHER_MULTIPLIERS", {})
        return float(multipliers.get(self.name, self.default_multiplier))


WEIGHERS: dict[str, type[BaseHostWeigher]] = {}

W = TypeVar("W", bound=type[BaseHostWeigher])


def register_weigher(cls: W) -> W:
    """Class decorator: make the weigher available by its `name` (default: class name)."""
    if not cls.name:
        cls.name = cls.__name__
    WEIGHERS[cls.name] = cls
    return cls


def resolve_weigher(name: str) -> type[BaseHostWeigher]:
    """The weigher class for a registered name or a dotted path; ValueError if neither."""
    if name in WEIGHERS:
        return WEIGHERS[name]
    if "." in name:
        try:
            cls = import_string(name)
        except ImportError as exc:
            raise ValueError(f"cannot import weigher {name}: {exc}") from exc
        if isinstance(cls, type) and issubclass(cls, BaseHostWeigher):
            if not cls.name:
                cls.name = cls.__name__
            return cls
        raise ValueError(f"{name} is not a BaseHostWeigher subclass")
    raise ValueError(f"unknown scheduler weigher {name!r}")


def load_weighers(names: list[str]) -> list[BaseHostWeigher]:
    return [resolve_weigher(name)() for name in names]


def normalize(values: list[float]) -> list[float]:
    """Scale to [0, 1] by the list's own minimum and maximum; a flat list becomes zeros."""
    if not values:
        return []
    low, high = min(values), max(values)
    span = high - low
    if span == 0:
        return [0.0] * len(values)
    return [(value - low) / span for value in values]
