"""The capacity rule of one inventory, in plain Python: claims check with it, the scheduling
pass plans with it (apps.scheduler.host_state), and the SQL of both repeats it."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(slots=True)
class ResourceView:
    """One inventory of a host with its current usage (the sum of its allocations)."""

    total: int
    reserved: int = 0
    allocation_ratio: float = 1.0
    min_unit: int = 1
    max_unit: int = 0
    step_size: int = 1
    used: int = 0

    @property
    def capacity(self) -> int:
        return int((self.total - self.reserved) * self.allocation_ratio)

    @property
    def free(self) -> int:
        return self.capacity - self.used

    def fits(self, amount: int) -> bool:
        return (
            self.used + amount <= self.capacity
            and self.min_unit <= amount <= (self.max_unit or self.total)
            and amount % max(self.step_size, 1) == 0
        )
