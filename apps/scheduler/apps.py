"""The scheduler app: the scheduling pass, its filters and weighers (docs/scheduler.md); the
data it places against and the claims are apps.placement's."""

from django.apps import AppConfig


class SchedulerConfig(AppConfig):
    name = "apps.scheduler"
    label = "scheduler"
    verbose_name = "Scheduler"

    def ready(self) -> None:
        # Explicit registration of the built-in plug-ins (greppable, no directory scan) and
        # of the system check that validates the configured names.
        from apps.scheduler import candidates, checks, request_spec  # noqa: F401
        from apps.scheduler.filters import (  # noqa: F401
            aggregate_instance_extra_specs,
            aggregate_multitenancy_isolation,
            availability_zone,
            compute_capabilities,
            compute_status,
            different_host,
            image_properties,
            same_host,
            server_group_affinity,
            server_group_anti_affinity,
        )
        from apps.scheduler.weighers import (  # noqa: F401
            build_failure,
            cpu,
            disk,
            io_ops,
            ram,
            server_group_soft_affinity,
            server_group_soft_anti_affinity,
        )

        # RequestSpec reads groups and hosts through the one module that reads the database
        # (request_spec must not import it: the dependency points from the ORM to the pure
        # modules, never back).
        request_spec.install_reader(candidates)
