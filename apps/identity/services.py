"""Identity writes: domains, projects, users and role assignments (idempotent ensure_* helpers
used by `manage.py bootstrap` and the identity management commands)."""

from django.db import transaction

from apps.identity.choices import DEFAULT_DOMAIN_ID, DEFAULT_DOMAIN_NAME, RoleName
from apps.identity.models import Domain, Project, Role, RoleAssignment, Token, User


def ensure_default_domain() -> Domain:
    domain, _ = Domain.objects.get_or_create(
        id=DEFAULT_DOMAIN_ID, defaults={"name": DEFAULT_DOMAIN_NAME}
    )
    return domain


def ensure_roles() -> dict[str, Role]:
    return {name: Role.objects.get_or_create(name=name)[0] for name in RoleName.values}


def ensure_project(*, name: str, domain: Domain | None = None, description: str = "") -> Project:
    domain = domain or ensure_default_domain()
    project, _ = Project.objects.get_or_create(
        domain=domain, name=name, defaults={"description": description}
    )
    return project


def ensure_user(
    *,
    username: str,
    password: str,
    default_project: Project | None = None,
    is_superuser: bool = False,
) -> User:
    """Create the user, or reset its password and default project to the given ones."""
    domain = ensure_default_domain()
    user = User.objects.filter(username=username).first()
    if user is None:
        user = User(username=username, domain=domain)
    user.set_password(password)
    user.default_project = default_project
    user.is_superuser = is_superuser
    user.is_staff = is_superuser
    user.is_active = True
    user.save()
    return user


def assign_roles(*, user: User, project: Project, roles: list[str]) -> None:
    """Give `user` each role in `roles` on `project` (member implies reader, as Keystone's
    implied roles do; admin implies both)."""
    implied = {RoleName.ADMIN: [RoleName.MEMBER, RoleName.READER], RoleName.MEMBER: [RoleName.READER]}
    wanted = set(roles)
    for role in roles:
        wanted.update(implied.get(RoleName(role), []))
    all_roles = ensure_roles()
    for role in sorted(wanted):
        RoleAssignment.objects.get_or_create(user=user, project=project, role=all_roles[role])


@transaction.atomic
def unassign_role(*, user: User, project: Project, role: str) -> None:
    """Remove a role; tokens that no longer carry any role there stop working at once
    (roles are read on every request), so nothing else needs revoking."""
    RoleAssignment.objects.filter(user=user, project=project, role__name=role).delete()


def revoke_user_tokens(*, user: User) -> int:
    from django.utils import timezone

    return Token.objects.filter(user=user, revoked_at__isnull=True).update(
        revoked_at=timezone.now()
    )
