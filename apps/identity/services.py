"""Identity writes: domains, projects, users, role assignments and password authentication.

Every write to the identity model goes through here: the API, the admin, the
``identity_*`` management commands and ``manage.py bootstrap`` (the idempotent ``ensure_*``
helpers). Token storage itself is `apps.identity.tokens`; failed-attempt counting is
`apps.identity.throttle`; how a password is checked is `apps.identity.passwords`.
"""

from dataclasses import dataclass
from typing import TypeGuard

from django.contrib.auth.hashers import make_password
from django.db import IntegrityError, transaction
from django.db.models import ProtectedError, Q
from django.utils import timezone

from apps.identity import throttle
from apps.identity.choices import DEFAULT_DOMAIN_ID, DEFAULT_DOMAIN_NAME, RoleName
from apps.identity.exceptions import DomainNotFound, ProjectNotFound, RoleNotFound, UserNotFound
from apps.identity.models import Domain, Project, Role, RoleAssignment, Token, User
from apps.identity.passwords import forget, verify_password
from apps.identity.tokens import IssuedToken, issue_token
from computecloud.exceptions import (
    AuthenticationRequired,
    Conflict,
    InvalidInput,
)

# Roles that imply others, as Keystone's default implied roles do. Stored as explicit
# assignments so that reading a caller's roles stays one query.
IMPLIED_ROLES = {
    RoleName.ADMIN: [RoleName.MEMBER, RoleName.READER],
    RoleName.MEMBER: [RoleName.READER],
}


# --- domains, roles --------------------------------------------------------------------------


def ensure_default_domain() -> Domain:
    domain, _ = Domain.objects.get_or_create(
        id=DEFAULT_DOMAIN_ID, defaults={"name": DEFAULT_DOMAIN_NAME}
    )
    return domain


def ensure_roles() -> dict[str, Role]:
    return {name: Role.objects.get_or_create(name=name)[0] for name in RoleName.values}


def get_domain(name_or_id: str | None) -> Domain:
    """The domain with this id or name; the default domain when none is named."""
    if not name_or_id:
        return ensure_default_domain()
    domain = (
        Domain.objects.filter(pk=name_or_id).first()
        or Domain.objects.filter(name=name_or_id).first()
    )
    if domain is None:
        raise DomainNotFound(domain=name_or_id)
    return domain


# --- projects --------------------------------------------------------------------------------


def ensure_project(*, name: str, domain: Domain | None = None, description: str = "") -> Project:
    domain = domain or ensure_default_domain()
    project, _ = Project.objects.get_or_create(
        domain=domain, name=name, defaults={"description": description}
    )
    return project


def create_project(
    *, name: str, domain: Domain | None = None, description: str = "", enabled: bool = True
) -> Project:
    domain = domain or ensure_default_domain()
    try:
        with transaction.atomic():
            return Project.objects.create(
                name=name, domain=domain, description=description, enabled=enabled
            )
    except IntegrityError:
        raise Conflict(
            f"Conflict occurred attempting to store project - it is not permitted to have two "
            f"projects with the same name in the same domain : {name}."
        ) from None


def set_project_enabled(*, project: Project, enabled: bool) -> Project:
    """Enable or disable a project. Tokens scoped to a disabled project stop working at once
    (`find_valid_token` excludes them) and work again if it is re-enabled before they expire,
    as Keystone's do."""
    Project.objects.filter(pk=project.pk).update(enabled=enabled)
    project.enabled = enabled
    return project


def delete_project(*, project: Project) -> None:
    """Delete a project with its role assignments and tokens; refused (409) while it still
    owns servers or other resources that protect it."""
    try:
        with transaction.atomic():
            project.delete()
    except ProtectedError:
        raise Conflict(
            f"Project {project.name} ({project.pk}) still owns resources; delete them first."
        ) from None


def find_project(
    *, project_id: str | None = None, name: str | None = None, domain: str | None = None
) -> Project | None:
    """A project by id, or by name within a domain (by id or name; default: Default)."""
    queryset = Project.objects.select_related("domain")
    if project_id:
        return queryset.filter(pk=project_id).first()
    if not name:
        return None
    if domain:
        # One query for "domain by id or by name"; an id match wins over a name match.
        candidates = queryset.filter(Q(domain_id=domain) | Q(domain__name=domain), name=name)
        return min(candidates, key=lambda p: p.domain_id != domain, default=None)
    return queryset.filter(name=name, domain_id=DEFAULT_DOMAIN_ID).first()


def get_project(name_or_id: str) -> Project:
    project = find_project(project_id=name_or_id) or find_project(name=name_or_id)
    if project is None:
        raise ProjectNotFound(project=name_or_id)
    return project


# --- users -----------------------------------------------------------------------------------


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


def create_user(
    *,
    username: str,
    password: str | None,
    domain: Domain | None = None,
    default_project: Project | None = None,
    email: str = "",
    enabled: bool = True,
) -> User:
    """Create a user; without a password the user cannot authenticate until given one."""
    user = User(
        username=username,
        domain=domain or ensure_default_domain(),
        default_project=default_project,
        email=email,
        is_active=enabled,
    )
    user.set_password(password)  # None gives an unusable password
    try:
        with transaction.atomic():
            user.save(force_insert=True)
    except IntegrityError:
        raise Conflict(
            f"Conflict occurred attempting to store user - Duplicate entry {username}."
        ) from None
    return user


def set_user_password(*, user: User, password: str) -> User:
    """Change a password. Tokens already issued stay valid until they expire, as Keystone's
    do; revoke them with `revoke_user_tokens` to force everyone out."""
    user.set_password(password)
    user.save(update_fields=["password"])
    forget(user.pk)
    return user


def set_user_enabled(*, user: User, enabled: bool) -> User:
    """Enable or disable a user. Disabling revokes every token the user holds, so that
    enabling them again does not bring old tokens back (Keystone does the same)."""
    with transaction.atomic():
        User.objects.filter(pk=user.pk).update(is_active=enabled)
        user.is_active = enabled
        if not enabled:
            revoke_user_tokens(user=user)
    forget(user.pk)
    return user


def set_default_project(*, user: User, project: Project | None) -> User:
    User.objects.filter(pk=user.pk).update(default_project=project)
    user.default_project = project
    return user


def delete_user(*, user: User) -> None:
    """Delete a user, with their tokens, role assignments and key pairs."""
    forget(user.pk)
    user.delete()


def get_user(name_or_id: str) -> User:
    user = (
        User.objects.filter(pk=name_or_id).first()
        or User.objects.filter(username=name_or_id).first()
    )
    if user is None:
        raise UserNotFound(user=name_or_id)
    return user


# --- role assignments ------------------------------------------------------------------------


def assign_roles(*, user: User, project: Project, roles: list[str]) -> None:
    """Give `user` each role in `roles` on `project` (member implies reader, as Keystone's
    implied roles do; admin implies both)."""
    wanted = set(roles)
    for role in roles:
        try:
            wanted.update(IMPLIED_ROLES.get(RoleName(role), []))
        except ValueError:
            raise RoleNotFound(role=role) from None
    all_roles = ensure_roles()
    for role in sorted(wanted):
        RoleAssignment.objects.get_or_create(user=user, project=project, role=all_roles[role])


@transaction.atomic
def unassign_role(*, user: User, project: Project, role: str) -> None:
    """Remove a role. Roles are read on every request, so the user's tokens carry only what
    remains; once no role remains on `project`, their tokens scoped there are revoked (as
    Keystone revokes on grant removal), so that a later grant does not revive them."""
    RoleAssignment.objects.filter(user=user, project=project, role__name=role).delete()
    if not RoleAssignment.objects.filter(user=user, project=project).exists():
        Token.objects.filter(user=user, project=project, revoked_at__isnull=True).update(
            revoked_at=timezone.now()
        )


def revoke_user_tokens(*, user: User) -> int:
    return Token.objects.filter(user=user, revoked_at__isnull=True).update(
        revoked_at=timezone.now()
    )


# --- password authentication -----------------------------------------------------------------


@dataclass(frozen=True)
class UserRef:
    """The user as a request names it: by id, or by name within a domain (token requests),
    or by login name, unique across domains (the admin and API sign-in pages)."""

    id: str | None = None
    name: str | None = None
    domain_id: str | None = None
    domain_name: str | None = None
    login: str | None = None

    def describe(self) -> str:
        """A stable name for this spelling (what the throttle counts when no user matches)."""
        if self.id:
            return f"id:{self.id}"
        if self.login is not None:
            return f"login:{self.login}"
        return f"name:{self.domain_id or ''}/{self.domain_name or ''}/{self.name}"


@dataclass(frozen=True)
class ProjectRef:
    """The project a token request asks to be scoped to: by id, or by name within a domain."""

    id: str | None = None
    name: str | None = None
    domain_id: str | None = None
    domain_name: str | None = None


@dataclass(frozen=True)
class TokenGrant:
    """A freshly issued token and the roles it carries (empty when unscoped)."""

    issued: IssuedToken
    roles: list[Role]


def _find_user(ref: UserRef) -> User | None:
    queryset = User.objects.select_related("domain", "default_project")
    if ref.id:
        return queryset.filter(pk=ref.id).first()
    if ref.login is not None:
        return queryset.filter(username=ref.login).first()
    if not ref.name:
        return None
    if ref.domain_id:
        queryset = queryset.filter(domain_id=ref.domain_id)
    elif ref.domain_name:
        queryset = queryset.filter(domain__name=ref.domain_name)
    else:
        queryset = queryset.filter(domain_id=DEFAULT_DOMAIN_ID)
    return queryset.filter(username=ref.name).first()


def _roles_on(user: User, project: Project) -> list[Role]:
    return list(
        Role.objects.filter(assignments__user=user, assignments__project=project)
        .order_by("name")
        .distinct()
    )


def _usable(project: Project | None) -> TypeGuard[Project]:
    return project is not None and project.enabled and project.domain.enabled


def authenticate_password(*, user: UserRef, password: str, source: str) -> User:
    """The one place a password is checked: token requests and the admin and API sign-in
    pages (`apps.identity.backends`) all come here, so they share one failure count.

    Returns the enabled user `password` belongs to. Raises `AuthenticationRequired` for a
    wrong password and for an unknown or disabled user (all alike), and
    `throttle.TooManyAuthFailures` once (user, `source`) used up its failures, the right
    password included. Failures count against the user the reference resolves to, whatever
    spelling named them (id, name in a domain, login name); an unknown name against itself.
    """
    account = _find_user(user)
    subject = throttle.user_subject(account.pk) if account is not None else user.describe()
    failures = throttle.check_not_locked(subject=subject, source=source)
    if account is None:
        make_password(password)  # spend the hash's time, so timing does not reveal names
        verified = False
    else:
        verified = verify_password(account, password)
    if account is None or not verified or not account.is_active or not account.domain.enabled:
        throttle.record_failure(subject=subject, source=source)
        raise AuthenticationRequired()
    if failures:
        throttle.clear_failures(subject=subject, source=source)
    return account


def default_scope(account: User) -> tuple[Project | None, list[Role]]:
    """The scope a sign-in that names no project gets: the user's default project when it is
    enabled and the user holds a role there, else none (unscoped)."""
    default = account.default_project
    if not _usable(default):
        return None, []
    roles = _roles_on(account, default)
    return (default if roles else None), roles


def project_scopes(account: User) -> list[tuple[Project, list[Role]]]:
    """Every project `account` may work in (enabled, in an enabled domain, holding a role
    there) with the roles held, by name: what a signed-in user may switch between."""
    scopes: dict[str, tuple[Project, list[Role]]] = {}
    assignments = (
        RoleAssignment.objects.filter(user=account)
        .select_related("project__domain", "role")
        .order_by("project__name", "role__name")
    )
    for assignment in assignments:
        if not _usable(assignment.project):
            continue
        _, roles = scopes.setdefault(assignment.project_id, (assignment.project, []))
        if assignment.role not in roles:
            roles.append(assignment.role)
    return list(scopes.values())


def scope_on(account: User, project_id: str) -> tuple[Project, list[Role]] | None:
    """`account`'s scope on one project, as a token scoped there would carry it; None where
    they hold no role or the project cannot be used."""
    project = Project.objects.select_related("domain").filter(pk=project_id).first()
    if not _usable(project):
        return None
    roles = _roles_on(account, project)
    return (project, roles) if roles else None


def issue_password_token(
    *, user: UserRef, password: str, project: ProjectRef | None, source: str
) -> TokenGrant:
    """Keystone's password method: check the password, resolve the scope, issue a token.

    Scoped to `project` when given (the user must hold a role there), else to the user's
    default project when they hold a role there, else unscoped. Every refusal is the same
    401, so that it says nothing about which part was wrong; too many failed passwords give
    429 (`authenticate_password`).
    """
    account = authenticate_password(user=user, password=password, source=source)

    scope: Project | None = None
    roles: list[Role] = []
    if project is not None:
        if project.id:
            scope = find_project(project_id=project.id)
        elif project.name:
            scope = find_project(name=project.name, domain=project.domain_id or project.domain_name)
        else:
            raise InvalidInput("Expecting to find id or name in project.")
        if not _usable(scope):
            raise AuthenticationRequired()
        roles = _roles_on(account, scope)
        if not roles:
            raise AuthenticationRequired()
    else:
        scope, roles = default_scope(account)
    issued = issue_token(user=account, project=scope, methods=["password"])
    return TokenGrant(issued=issued, roles=roles)
