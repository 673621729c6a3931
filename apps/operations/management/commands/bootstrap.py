"""`manage.py bootstrap`: the data a new computecloud needs, created once (idempotent).

- user "admin" (password from ADMIN_PASSWORD, else generated and printed once), admin of
  project "admin";
- project "demo" with user "demo" (DEMO_PASSWORD), member there;
- the standard flavors m1.nano ... m1.large;
- this machine's compute host (COMPUTE_HOST), whose worker fills in its facts at start;
- the guest image as image "tinyos", when --image is given;
- openrc files under var/ (mode 0600) for the two users.
"""

import os
import secrets
import shlex
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand
from django.db import transaction

from apps.flavors.services import ensure_standard_flavors
from apps.hosts.services import ensure_compute_service
from apps.identity.services import assign_roles, ensure_project, ensure_user
from apps.images.services import ensure_image_from_file
from computecloud.conf import cc_settings
from computecloud.endpoints import identity_public_url


class Command(BaseCommand):
    help = "Create the admin and demo users and projects, flavors, the local host and image."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--image", help="qcow2 file to register as image 'tinyos'")
        parser.add_argument(
            "--host", default=os.environ.get("COMPUTE_HOST"), help="compute host to register"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        with transaction.atomic():
            admin_pw = self._password("ADMIN_PASSWORD", "admin")
            demo_pw = self._password("DEMO_PASSWORD", "demo")
            admin_project = ensure_project(name="admin", description="Administrators")
            demo_project = ensure_project(name="demo", description="Demo project")
            admin = ensure_user(
                username="admin",
                password=admin_pw,
                default_project=admin_project,
                is_superuser=True,
            )
            assign_roles(user=admin, project=admin_project, roles=["admin"])
            assign_roles(user=admin, project=demo_project, roles=["admin"])
            demo = ensure_user(username="demo", password=demo_pw, default_project=demo_project)
            assign_roles(user=demo, project=demo_project, roles=["member"])
            ensure_standard_flavors()
            if options["host"]:
                ensure_compute_service(host=options["host"])
        if options["image"]:
            image = ensure_image_from_file(
                name="tinyos",
                path=Path(options["image"]),
                owner=admin_project,
                visibility="public",
                properties={"hw_machine_type": "pc", "os_distro": "tinyos"},
            )
            self.stdout.write(f"image tinyos: {image.id}")
        self._write_openrc("admin", admin_pw, "admin")
        self._write_openrc("demo", demo_pw, "demo")
        self.stdout.write(self.style.SUCCESS("bootstrap complete"))

    def _password(self, variable: str, user: str) -> str:
        password = os.environ.get(variable)
        if password:
            return password
        password = secrets.token_urlsafe(16)
        self.stdout.write(f"generated password for {user} (shown once): {password}")
        return password

    def _write_openrc(self, user: str, password: str, project: str) -> None:
        path = Path(settings.STATE_DIR) / f"{user}-openrc.sh"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch(mode=0o600)
        variables = {
            "OS_AUTH_URL": identity_public_url(),
            "OS_USERNAME": user,
            "OS_PASSWORD": password,
            "OS_PROJECT_NAME": project,
            "OS_USER_DOMAIN_NAME": "Default",
            "OS_PROJECT_DOMAIN_NAME": "Default",
            "OS_IDENTITY_API_VERSION": "3",
            "OS_REGION_NAME": cc_settings.REGION,  # the catalog's region, or no endpoint matches
        }
        # Quoted for the shell that sources it: an operator's password may hold ' $ ` or \.
        path.write_text("".join(f"export {k}={shlex.quote(v)}\n" for k, v in variables.items()))
        self.stdout.write(f"openrc for {user}: {path}")
