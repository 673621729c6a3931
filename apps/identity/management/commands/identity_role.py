"""`manage.py identity_role assign|unassign|list`: who holds which role on which project.

``assign USER PROJECT ROLE`` also gives the roles it implies (member → reader, admin → both),
as Keystone's implied roles do; ``unassign`` removes exactly the role named. Tokens follow at
once: a token whose user no longer holds any role on its project is refused.
"""

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from apps.identity import services
from apps.identity.choices import RoleName
from apps.identity.models import RoleAssignment
from computecloud.exceptions import ComputecloudError


class Command(BaseCommand):
    help = "Assign, unassign or list roles of users on projects."

    def add_arguments(self, parser: CommandParser) -> None:
        actions = parser.add_subparsers(dest="action", required=True)
        for name in ("assign", "unassign"):
            sub = actions.add_parser(name, help=f"{name} a role")
            sub.add_argument("user", help="user name or id")
            sub.add_argument("project", help="project name or id")
            sub.add_argument("role", choices=RoleName.values)
        listing = actions.add_parser("list", help="list role assignments")
        listing.add_argument("--user", help="only this user (name or id)")
        listing.add_argument("--project", help="only this project (name or id)")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            getattr(self, f"_{options['action']}")(options)
        except ComputecloudError as exc:
            raise CommandError(exc.message) from None

    def _assign(self, options: dict[str, Any]) -> None:
        user = services.get_user(options["user"])
        project = services.get_project(options["project"])
        services.assign_roles(user=user, project=project, roles=[options["role"]])
        self.stdout.write(f"{user.username} is {options['role']} on {project.name}")

    def _unassign(self, options: dict[str, Any]) -> None:
        user = services.get_user(options["user"])
        project = services.get_project(options["project"])
        services.unassign_role(user=user, project=project, role=options["role"])
        self.stdout.write(f"{user.username} is no longer {options['role']} on {project.name}")

    def _list(self, options: dict[str, Any]) -> None:
        assignments = RoleAssignment.objects.select_related("user", "project", "role")
        if options["user"]:
            assignments = assignments.filter(user=services.get_user(options["user"]))
        if options["project"]:
            assignments = assignments.filter(project=services.get_project(options["project"]))
        for assignment in assignments.order_by("user__username", "project__name", "role__name"):
            self.stdout.write(
                f"{assignment.user.username}  {assignment.project.name}  {assignment.role.name}"
            )
