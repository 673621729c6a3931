"""`manage.py identity_user create|list|show|set-password|enable|disable|delete`: users.

``create NAME --password P --project PROJ --role member`` creates the user, makes PROJ their
default project and gives them the role there. A password may come from ``--password`` or,
to keep it out of the process list, from the environment variable named by
``--password-env``.
"""

import os
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from apps.identity import services
from apps.identity.choices import RoleName
from apps.identity.models import User
from computecloud.exceptions import ComputecloudError


def _password(options: dict[str, Any]) -> str | None:
    if options.get("password_env"):
        value = os.environ.get(options["password_env"])
        if not value:
            raise CommandError(f"environment variable {options['password_env']} is not set")
        return value
    return options.get("password")


class Command(BaseCommand):
    help = "Create, list, show, enable, disable or delete identity users, or set a password."

    def add_arguments(self, parser: CommandParser) -> None:
        actions = parser.add_subparsers(dest="action", required=True)
        create = actions.add_parser("create", help="create a user")
        create.add_argument("name")
        create.add_argument("--password", help="the password (see also --password-env)")
        create.add_argument("--password-env", help="read the password from this variable")
        create.add_argument("--domain", help="domain name or id (default: Default)")
        create.add_argument("--email", default="")
        create.add_argument("--project", help="default project (name or id)")
        create.add_argument(
            "--role",
            action="append",
            choices=RoleName.values,
            help="role on --project (repeatable; member implies reader, admin both)",
        )
        create.add_argument("--disabled", action="store_true", help="create it disabled")
        actions.add_parser("list", help="list users")
        password = actions.add_parser("set-password", help="change a user's password")
        password.add_argument("user", help="user name or id")
        password.add_argument("--password")
        password.add_argument("--password-env")
        for name in ("show", "enable", "disable", "delete"):
            sub = actions.add_parser(name, help=f"{name} a user")
            sub.add_argument("user", help="user name or id")

    def handle(self, *args: Any, **options: Any) -> None:
        action = options["action"].replace("-", "_")
        try:
            getattr(self, f"_{action}")(options)
        except ComputecloudError as exc:
            raise CommandError(exc.message) from None

    def _create(self, options: dict[str, Any]) -> None:
        roles = options["role"] or []
        if roles and not options["project"]:
            raise CommandError("--role needs --project")
        project = services.get_project(options["project"]) if options["project"] else None
        password = _password(options)
        if password is None:
            self.stderr.write("no password given: the user cannot authenticate until set")
        user = services.create_user(
            username=options["name"],
            password=password,
            domain=services.get_domain(options["domain"]),
            default_project=project,
            email=options["email"],
            enabled=not options["disabled"],
        )
        if project is not None and roles:
            services.assign_roles(user=user, project=project, roles=roles)
        self.stdout.write(f"created user {user.username} ({user.pk})")

    def _list(self, options: dict[str, Any]) -> None:
        for user in User.objects.select_related("domain", "default_project").order_by("username"):
            state = "enabled" if user.is_active else "disabled"
            default = user.default_project.name if user.default_project else "-"
            self.stdout.write(f"{user.pk}  {user.username}  {user.domain.name}  {default}  {state}")

    def _show(self, options: dict[str, Any]) -> None:
        user = services.get_user(options["user"])
        self.stdout.write(f"id: {user.pk}\nname: {user.username}\ndomain: {user.domain_id}")
        self.stdout.write(f"enabled: {user.is_active}\ndefault_project: {user.default_project_id}")
        for assignment in user.role_assignments.select_related("project", "role").order_by(
            "project__name", "role__name"
        ):
            self.stdout.write(f"role: {assignment.project.name} {assignment.role.name}")

    def _set_password(self, options: dict[str, Any]) -> None:
        password = _password(options)
        if not password:
            raise CommandError("give --password or --password-env")
        user = services.set_user_password(
            user=services.get_user(options["user"]), password=password
        )
        self.stdout.write(f"password of {user.username} changed")

    def _enable(self, options: dict[str, Any]) -> None:
        user = services.set_user_enabled(user=services.get_user(options["user"]), enabled=True)
        self.stdout.write(f"enabled user {user.username}")

    def _disable(self, options: dict[str, Any]) -> None:
        user = services.set_user_enabled(user=services.get_user(options["user"]), enabled=False)
        self.stdout.write(f"disabled user {user.username}; their tokens are revoked")

    def _delete(self, options: dict[str, Any]) -> None:
        user = services.get_user(options["user"])
        services.delete_user(user=user)
        self.stdout.write(f"deleted user {user.username}")
