"""Identity administration with the real ``openstack`` CLI, unmodified, against a live server:
an admin makes a project and a user and grants a role; the user makes an application
credential; a program authenticates with it (``OS_AUTH_TYPE=v3applicationcredential``) and
lists servers, until the credential is deleted. A member's administration commands fail."""

import json
import subprocess
from collections.abc import Callable
from typing import Any

import pytest

from apps.identity.models import ApplicationCredential, Project, User
from tests.clients.cli import CLI_TIMEOUT, OPENSTACK, OpenStackCLIError, OpenStackEnv

pytestmark = [pytest.mark.clients, pytest.mark.django_db(transaction=True)]


def _as(admin: OpenStackEnv, *, username: str, password: str, project: str) -> OpenStackEnv:
    """The openrc of another user of the same cloud."""
    variables = {
        **admin,
        "OS_USERNAME": username,
        "OS_PASSWORD": password,
        "OS_PROJECT_NAME": project,
    }
    return OpenStackEnv(
        variables,
        user=User.objects.get(username=username),
        project=Project.objects.get(name=project),
        home=admin.home,
    )


def _run(
    variables: dict[str, str], env: OpenStackEnv, *args: str
) -> subprocess.CompletedProcess[str]:
    """``openstack <args>`` with exactly `variables` (no password variables at all)."""
    return subprocess.run(
        [str(OPENSTACK), *args],
        env={"PATH": env.process_env()["PATH"], "HOME": str(env.home), **variables},
        capture_output=True,
        text=True,
        timeout=CLI_TIMEOUT,
        check=False,
    )


def _credential_variables(env: OpenStackEnv, **auth: str) -> dict[str, str]:
    """What a CI system's environment holds instead of a password."""
    return {
        "OS_AUTH_TYPE": "v3applicationcredential",
        "OS_AUTH_URL": env["OS_AUTH_URL"],
        "OS_IDENTITY_API_VERSION": "3",
        "OS_REGION_NAME": env["OS_REGION_NAME"],
        "OS_INTERFACE": env["OS_INTERFACE"],
        **auth,
    }


def _json(result: subprocess.CompletedProcess[str]) -> Any:
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


@pytest.mark.parametrize("openstack_env", ["admin"], indirect=True)
def test_admin_creates_project_and_user_grants_a_role_and_the_user_uses_a_credential(
    openstack_env: OpenStackEnv,
) -> None:
    admin = openstack_env

    # when: the operator's first hour
    project = admin.openstack("project", "create", "--description", "the web tier", "web")
    user = admin.openstack(
        "user", "create", "--password", "alice-pw-1", "--project", "web",
        "--email", "alice@example.org", "alice",
    )  # fmt: skip
    admin.openstack_text("role", "add", "--project", "web", "--user", "alice", "member")
    assignments = admin.openstack(
        "role", "assignment", "list", "--project", "web", "--user", "alice", "--names"
    )

    # then
    assert project["name"] == "web"
    assert project["description"] == "the web tier"
    assert project["enabled"] is True
    assert user["name"] == "alice"
    assert user["default_project_id"] == project["id"]
    assert user["email"] == "alice@example.org"
    assert {(a["Role"], a["User"], a["Project"]) for a in assignments} == {
        ("member", "alice@Default", "web@Default"),
        ("reader", "alice@Default", "web@Default"),  # implied by member, stored as a grant
    }

    # when: alice makes a credential for her CI, restricted to the reader role
    alice = _as(admin, username="alice", password="alice-pw-1", project="web")
    credential = alice.openstack(
        "application", "credential", "create", "--role", "reader", "--description", "CI", "ci"
    )

    # then
    assert credential["Name"] == "ci"
    assert credential["Project ID"] == project["id"]
    assert credential["Secret"]
    assert [role["name"] for role in credential["Roles"]] == ["reader"]

    # when: CI authenticates with it, by id and by name
    by_id = _credential_variables(
        admin,
        OS_APPLICATION_CREDENTIAL_ID=credential["ID"],
        OS_APPLICATION_CREDENTIAL_SECRET=credential["Secret"],
    )
    by_name = _credential_variables(
        admin,
        OS_APPLICATION_CREDENTIAL_NAME="ci",
        OS_APPLICATION_CREDENTIAL_SECRET=credential["Secret"],
        OS_USERNAME="alice",
        OS_USER_DOMAIN_NAME="Default",
    )
    servers = _json(_run(by_id, admin, "server", "list", "-f", "json"))
    token = _json(_run(by_name, admin, "token", "issue", "-f", "json"))

    # then
    assert servers == []
    assert token["project_id"] == project["id"]
    assert token["user_id"] == user["id"]

    # when: alice lists, then deletes it
    listed = alice.openstack("application", "credential", "list")
    alice.openstack_text("application", "credential", "delete", "ci")
    after = _run(by_id, admin, "server", "list", "-f", "json")

    # then
    assert [c["Name"] for c in listed] == ["ci"]
    assert not ApplicationCredential.objects.exists()
    assert after.returncode != 0
    assert "401" in after.stderr


@pytest.mark.parametrize("openstack_env", ["admin"], indirect=True)
def test_admin_updates_disables_and_deletes(openstack_env: OpenStackEnv) -> None:
    admin = openstack_env

    # given
    admin.openstack("project", "create", "ops")
    admin.openstack("user", "create", "--password", "bob-pw-1", "--project", "ops", "bob")
    admin.openstack_text("role", "add", "--project", "ops", "--user", "bob", "member")
    bob = _as(admin, username="bob", password="bob-pw-1", project="ops")
    assert bob.openstack("server", "list") == []

    # when: a new password, then the role removed
    admin.openstack_text("user", "set", "--password", "bob-pw-2", "bob")
    old_password = bob.openstack_result("server", "list")
    bob = _as(admin, username="bob", password="bob-pw-2", project="ops")
    listed_roles = admin.openstack("role", "assignment", "list", "--user", "bob", "--names")
    admin.openstack_text("role", "remove", "--project", "ops", "--user", "bob", "member")
    admin.openstack_text("role", "remove", "--project", "ops", "--user", "bob", "reader")
    no_role = bob.openstack_result("server", "list")

    # then
    assert old_password.returncode != 0
    assert {a["Role"] for a in listed_roles} == {"member", "reader"}
    assert no_role.returncode != 0

    # when
    admin.openstack_text("project", "set", "--disable", "--description", "closed", "ops")
    shown = admin.openstack("project", "show", "ops")
    admin.openstack_text("user", "delete", "bob")
    admin.openstack_text("project", "delete", "ops")

    # then
    assert shown["enabled"] is False
    assert shown["description"] == "closed"
    assert not User.objects.filter(username="bob").exists()
    assert not Project.objects.filter(name="ops").exists()


def test_a_member_cannot_administer(
    openstack_env: OpenStackEnv, make_openstack_env: Callable[..., OpenStackEnv]
) -> None:
    # given
    member = openstack_env

    # when
    project = member.openstack_result("project", "create", "mine")
    member.openstack_result(
        "role", "add", "--project", member.project.name, "--user", member.user.username, "admin"
    )

    # then
    assert project.returncode != 0
    assert "403" in project.stderr
    # OSC 10.5 exits 0 even after the server's 403 to the PUT (its SDK call does not raise
    # there), so the proof is that no grant was made.
    assert not Project.objects.filter(name="mine").exists()
    assert not member.user.role_assignments.filter(role__name="admin").exists()
    with pytest.raises(OpenStackCLIError):
        member.openstack("user", "create", "--password", "x", "mallory")
