"""`manage.py identity_project create|list|show|enable|disable|delete`: projects, by name or id."""

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from apps.identity import services
from apps.identity.models import Project
from computecloud.exceptions import ComputecloudError


class Command(BaseCommand):
    help = "Create, list, show, enable, disable or delete identity projects."

    def add_arguments(self, parser: CommandParser) -> None:
        actions = parser.add_subparsers(dest="action", required=True)
        create = actions.add_parser("create", help="create a project")
        create.add_argument("name")
        create.add_argument("--domain", help="domain name or id (default: Default)")
        create.add_argument("--description", default="")
        create.add_argument("--disabled", action="store_true", help="create it disabled")
        actions.add_parser("list", help="list projects")
        for name in ("show", "enable", "disable", "delete"):
            sub = actions.add_parser(name, help=f"{name} a project")
            sub.add_argument("project", help="project name or id")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            getattr(self, f"_{options['action']}")(options)
        except ComputecloudError as exc:
            raise CommandError(exc.message) from None

    def _create(self, options: dict[str, Any]) -> None:
        project = services.create_project(
            name=options["name"],
            domain=services.get_domain(options["domain"]),
            description=options["description"],
            enabled=not options["disabled"],
        )
        self.stdout.write(f"created project {project.name} ({project.pk})")

    def _list(self, options: dict[str, Any]) -> None:
        for project in Project.objects.select_related("domain").order_by("name"):
            state = "enabled" if project.enabled else "disabled"
            self.stdout.write(f"{project.pk}  {project.name}  {project.domain.name}  {state}")

    def _show(self, options: dict[str, Any]) -> None:
        project = services.get_project(options["project"])
        self.stdout.write(f"id: {project.pk}\nname: {project.name}\ndomain: {project.domain_id}")
        self.stdout.write(f"enabled: {project.enabled}\ndescription: {project.description}")
        for assignment in project.role_assignments.select_related("user", "role").order_by(
            "user__username", "role__name"
        ):
            self.stdout.write(f"role: {assignment.user.username} {assignment.role.name}")

    def _enable(self, options: dict[str, Any]) -> None:
        project = services.set_project_enabled(
            project=services.get_project(options["project"]), enabled=True
        )
        self.stdout.write(f"enabled project {project.name}")

    def _disable(self, options: dict[str, Any]) -> None:
        project = services.set_project_enabled(
            project=services.get_project(options["project"]), enabled=False
        )
        self.stdout.write(f"disabled project {project.name}")

    def _delete(self, options: dict[str, Any]) -> None:
        project = services.get_project(options["project"])
        services.delete_project(project=project)
        self.stdout.write(f"deleted project {project.name}")
