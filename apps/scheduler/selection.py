"""What `select_destinations` returns: a claimed host per instance, with unclaimed alternates.

Both are JSON round-trippable (`as_dict` / `from_dict`), so the conductor can carry the
alternates through a task payload and hand one back to `claim_on_alternate` on a reschedule.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from apps.hosts.choices import DEFAULT_AVAILABILITY_ZONE


@dataclass(frozen=True)
class Alternate:
    """A host that passed the filters for the instance; nothing is claimed on it."""

    host: str
    node: str
    provider_uuid: str
    allocation: dict[str, int]
    availability_zone: str = DEFAULT_AVAILABILITY_ZONE

    def as_dict(self) -> dict[str, Any]:
        return {
            "host": self.host,
            "node": self.node,
            "provider_uuid": self.provider_uuid,
            "allocation": dict(self.allocation),
            "availability_zone": self.availability_zone,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Alternate:
        return cls(
            host=data["host"],
            node=data["node"],
            provider_uuid=str(data["provider_uuid"]),
            allocation={str(k): int(v) for k, v in data["allocation"].items()},
            availability_zone=data.get("availability_zone", DEFAULT_AVAILABILITY_ZONE),
        )


@dataclass(frozen=True)
class Selection:
    """The instance's destination; `allocation` is claimed on `provider_uuid` already."""

    instance_uuid: str
    host: str
    node: str
    provider_uuid: str
    allocation: dict[str, int]
    alternates: list[Alternate] = field(default_factory=list)
    availability_zone: str = DEFAULT_AVAILABILITY_ZONE

    def as_dict(self) -> dict[str, Any]:
        return {
            "instance_uuid": self.instance_uuid,
            "host": self.host,
            "node": self.node,
            "provider_uuid": self.provider_uuid,
            "allocation": dict(self.allocation),
            "alternates": [alt.as_dict() for alt in self.alternates],
            "availability_zone": self.availability_zone,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Selection:
        return cls(
            instance_uuid=str(data["instance_uuid"]),
            host=data["host"],
            node=data["node"],
            provider_uuid=str(data["provider_uuid"]),
            allocation={str(k): int(v) for k, v in data["allocation"].items()},
            alternates=[Alternate.from_dict(alt) for alt in data.get("alternates", [])],
            availability_zone=data.get("availability_zone", DEFAULT_AVAILABILITY_ZONE),
        )
