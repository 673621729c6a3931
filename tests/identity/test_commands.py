"""The identity management commands: what an operator types to manage tenancy."""

from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from apps.identity.models import Project, RoleAssignment, Token, User
from apps.identity.passwords import verify_password
from apps.identity.tasks import purge_identity_tokens
from apps.identity.tokens import find_valid_token, hash_token, issue_token

pytestmark = pytest.mark.django_db


def run(*args: str) -> str:
    out = StringIO()
    call_command(*args, stdout=out, stderr=StringIO())
    return out.getvalue()


def roles_of(username: str, project: str) -> list[str]:
    return sorted(
        RoleAssignment.objects.filter(user__username=username, project__name=project).values_list(
            "role__name", flat=True
        )
    )


def test_project_create_list_show_and_delete() -> None:
    # when
    created = run("identity_project", "create", "team-a", "--description", "Team A")
    listing = run("identity_project", "list")
    shown = run("identity_project", "show", "team-a")

    # then
    project = Project.objects.get(name="team-a")
    assert project.pk in created
    assert "team-a" in listing
    assert "description: Team A" in shown

    # when
    run("identity_project", "delete", project.pk)

    # then
    assert not Project.objects.filter(name="team-a").exists()


def test_duplicate_project_is_a_command_error() -> None:
    # given
    run("identity_project", "create", "team-a")

    # then
    with pytest.raises(CommandError, match="same name"):
        run("identity_project", "create", "team-a")


def test_user_create_with_project_and_role_can_authenticate() -> None:
    # given
    run("identity_project", "create", "team-a")

    # when
    run(
        "identity_user",
        "create",
        "alice",
        "--password",
        "alice-pw",
        "--project",
        "team-a",
        "--role",
        "member",
    )

    # then
    alice = User.objects.get(username="alice")
    assert alice.default_project.name == "team-a"
    assert verify_password(alice, "alice-pw")
    assert roles_of("alice", "team-a") == ["member", "reader"]


def test_user_password_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    # given
    monkeypatch.setenv("ALICE_PW", "from-env")

    # when
    run("identity_user", "create", "alice", "--password-env", "ALICE_PW")

    # then
    assert verify_password(User.objects.get(username="alice"), "from-env")


def test_role_without_project_is_refused() -> None:
    with pytest.raises(CommandError, match="--role needs --project"):
        run("identity_user", "create", "bob", "--password", "pw", "--role", "member")


def test_role_assign_and_unassign() -> None:
    # given
    run("identity_project", "create", "team-a")
    run("identity_user", "create", "alice", "--password", "pw")

    # when
    run("identity_role", "assign", "alice", "team-a", "admin")
    assigned = roles_of("alice", "team-a")
    run("identity_role", "unassign", "alice", "team-a", "admin")
    listing = run("identity_role", "list", "--user", "alice")

    # then
    assert assigned == ["admin", "member", "reader"]
    assert roles_of("alice", "team-a") == ["member", "reader"]
    assert "alice  team-a  member" in listing


def test_user_disable_revokes_tokens_and_enable_does_not_revive_them() -> None:
    # given
    run("identity_project", "create", "team-a")
    run(
        "identity_user",
        "create",
        "alice",
        "--password",
        "pw",
        "--project",
        "team-a",
        "--role",
        "member",
    )
    alice = User.objects.get(username="alice")
    secret = issue_token(user=alice, project=alice.default_project, methods=["password"]).token

    # when
    run("identity_user", "disable", "alice")
    run("identity_user", "enable", "alice")

    # then
    assert find_valid_token(secret) is None
    assert User.objects.get(username="alice").is_active


def test_set_password_replaces_the_old_one() -> None:
    # given
    run("identity_user", "create", "alice", "--password", "old-pw")

    # when
    run("identity_user", "set-password", "alice", "--password", "new-pw")

    # then
    alice = User.objects.get(username="alice")
    assert not verify_password(alice, "old-pw")
    assert verify_password(alice, "new-pw")


def test_unknown_user_is_a_command_error() -> None:
    with pytest.raises(CommandError, match="Could not find user: nobody"):
        run("identity_user", "show", "nobody")


def test_token_purge_deletes_revoked_tokens() -> None:
    # given
    run("identity_user", "create", "alice", "--password", "pw")
    alice = User.objects.get(username="alice")
    issue_token(user=alice, project=None, methods=["password"])
    run("identity_token", "revoke", "alice")

    # when
    out = run("identity_token", "purge")

    # then
    assert "purged 1 tokens" in out
    assert not Token.objects.filter(user=alice).exists()


def test_purge_task_deletes_expired_and_revoked_tokens_only() -> None:
    # given
    run("identity_user", "create", "alice", "--password", "pw")
    alice = User.objects.get(username="alice")
    live = issue_token(user=alice, project=None, methods=["password"]).token
    issue_token(user=alice, project=None, methods=["password"])
    Token.objects.filter(user=alice).exclude(token_hash=hash_token(live)).update(
        revoked_at=timezone.now()  # set-up: one token revoked
    )

    # when
    deleted = purge_identity_tokens()

    # then
    assert deleted == 1
    assert find_valid_token(live) is not None
