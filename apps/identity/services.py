"""Identity writes: domains, projects, users, role assignments, application credentials and
authentication (passwords, application credentials).

Every write to the identity model goes through here: the API, the admin, the
``identity_*`` management commands and ``manage.py bootstrap`` (the idempotent ``ensure_*``
helpers). Token storage itself is `apps.identity.tokens`; failed-attempt counting is
`apps.identity.throttle`; how a password is checked is `apps.identity.passwords`.
"""

import secrets
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import TypeGuard

from django.contrib.auth.hashers import check_password, make_password
from django.db import IntegrityError, transaction
from django.db.models import Model, ProtectedError, Q
from django.utils import timezone

from apps.identity import project_release, throttle
from apps.identity.choices import DEFAULT_DOMAIN_ID, DEFAULT_DOMAIN_NAME, RoleName
from apps.identity.exceptions import (
    DomainNotFound,
    ProjectNotFound,
    RoleAssignmentNotFound,
    RoleNotFound,
    UserNotFound,
)
from apps.identity.models import (
    ApplicationCredential,
    Domain,
    Project,
    Role,
    RoleAssignment,
    Token,
    User,
)
from apps.identity.passwords import forget, verify_password
from apps.identity.tokens import IssuedToken, issue_token
from computecloud.exceptions import (
    AuthenticationRequired,
    Conflict,
    Forbidden,
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


def _duplicate_project(name: str) -> Conflict:
    return Conflict(
        f"Conflict occurred attempting to store project - it is not permitted to have two "
        f"projects with the same name in the same domain : {name}."
    )


def update_project(
    *,
    project: Project,
    name: str | None = None,
    description: str | None = None,
    enabled: bool | None = None,
) -> Project:
    """Change what Keystone lets an operator change (name, description, enabled); what is
    None stays. Disabling has `set_project_enabled`'s effect on tokens."""
    fields = {
        key: value
        for key, value in (("name", name), ("description", description), ("enabled", enabled))
        if value is not None
    }
    if not fields:
        return project
    try:
        with transaction.atomic():
            Project.objects.filter(pk=project.pk).update(**fields)
    except IntegrityError:
        raise _duplicate_project(str(name)) from None
    for key, value in fields.items():
        setattr(project, key, value)
    return project


def delete_project(*, project: Project) -> None:
    """Delete a project with its role assignments, tokens and application credentials.

    What the other services keep only as history (deleted servers, their actions) or made on
    their own (the network service's ``default`` security group) goes with it
    (apps/identity/project_release.py). Live resources (servers, volumes, networks, ports,
    images, ...) refuse it with a 409 that names them: docs/identity.md says why.
    """
    try:
        with transaction.atomic():
            if not Project.objects.select_for_update().filter(pk=project.pk).exists():
                return  # deleted meanwhile: the caller's lookup already answered for it
            project_release.release(project)
            project.delete()
    except ProtectedError as exc:
        raise Conflict(
            f"Project {project.name} ({project.pk}) still owns "
            f"{_count_by_kind(exc.protected_objects)}; delete them first."
        ) from None


def _count_by_kind(objects: Iterable[Model]) -> str:
    """'2 servers, 1 network': what protects a project, for its 409."""
    counts = Counter((obj._meta.verbose_name, obj._meta.verbose_name_plural) for obj in objects)
    return ", ".join(
        f"{count} {plural if count > 1 else singular}"
        for (singular, plural), count in sorted(counts.items())
    )


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
    description: str = "",
) -> User:
    """Create a user; without a password the user cannot authenticate until given one."""
    user = User(
        username=username,
        domain=domain or ensure_default_domain(),
        default_project=default_project,
        email=email,
        description=description,
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


def update_user(
    *,
    user: User,
    name: str | None = None,
    password: str | None = None,
    enabled: bool | None = None,
    email: str | None = None,
    description: str | None = None,
    default_project: Project | None = None,
    clear_default_project: bool = False,
) -> User:
    """Change a user as Keystone's ``PATCH /v3/users/{id}`` does; what is None stays. A new
    password and disabling go through `set_user_password` and `set_user_enabled`, so they
    have the same effects (remembered passwords forgotten; a disabled user's tokens revoked)."""
    with transaction.atomic():
        changed: list[str] = []
        for field, value in (("username", name), ("email", email), ("description", description)):
            if value is not None:
                setattr(user, field, value)
                changed.append(field)
        if default_project is not None or clear_default_project:
            user.default_project = default_project
            changed.append("default_project")
        if changed:
            try:
                with transaction.atomic():
                    user.save(update_fields=["username", "email", "description", "default_project"])
            except IntegrityError:
                raise Conflict(
                    f"Conflict occurred attempting to store user - Duplicate entry {name}."
                ) from None
        if password is not None:
            set_user_password(user=user, password=password)
        if enabled is not None and enabled != user.is_active:
            set_user_enabled(user=user, enabled=enabled)
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


def grant_role(*, user: User, project: Project, role: Role) -> None:
    """Keystone's ``PUT /v3/projects/{p}/users/{u}/roles/{r}``: `assign_roles` for one role
    (idempotent; its implied roles come with it)."""
    assign_roles(user=user, project=project, roles=[role.name])


def check_role(*, user: User, project: Project, role: Role) -> None:
    """Raise `RoleAssignmentNotFound` unless `user` holds `role` on `project`."""
    if not RoleAssignment.objects.filter(user=user, project=project, role=role).exists():
        raise RoleAssignmentNotFound(role=role.pk, actor=user.pk, target=project.pk)


def revoke_role(*, user: User, project: Project, role: Role) -> None:
    """Keystone's ``DELETE`` of a grant: 404 when it is not held, else `unassign_role` (the
    roles it implied stay, as they are stored grants of their own)."""
    check_role(user=user, project=project, role=role)
    unassign_role(user=user, project=project, role=role.name)


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


# --- application credentials -----------------------------------------------------------------


def _roles_held(user: User, project: Project) -> dict[str, Role]:
    return {role.pk: role for role in _roles_on(user, project)}


@transaction.atomic
def create_application_credential(
    *,
    user: User,
    project: Project,
    name: str,
    secret: str | None = None,
    description: str = "",
    roles: list[Role] | None = None,
    expires_at: datetime | None = None,
    unrestricted: bool = False,
) -> tuple[ApplicationCredential, str]:
    """Make a credential for `user` on `project` (the caller's token's project, as Keystone
    requires) and return it with its secret, which is never stored or shown again.

    `roles` must be roles the user holds on `project` (default: all of them, at this moment);
    a secret is generated (256 bits) unless given; `expires_at` must be in the future.
    """
    held = _roles_held(user, project)
    if not held:
        raise Forbidden("You need a role on the project to create an application credential.")
    chosen = roles or list(held.values())
    for role in chosen:
        if role.pk not in held:
            raise RoleAssignmentNotFound(role=role.pk, actor=user.pk, target=project.pk)
    if expires_at is not None and expires_at <= timezone.now():
        raise InvalidInput("Invalid input for field 'expires_at': it is in the past.")
    secret = secret or secrets.token_urlsafe(64)
    credential = ApplicationCredential(
        user=user,
        project=project,
        name=name,
        description=description,
        secret_hash=make_password(secret),
        expires_at=expires_at,
        unrestricted=unrestricted,
    )
    try:
        with transaction.atomic():
            credential.save(force_insert=True)
    except IntegrityError:
        raise Conflict(
            f"Conflict occurred attempting to store application_credential - Duplicate entry "
            f"found with name {name}."
        ) from None
    credential.roles.set(chosen)
    return credential, secret


def delete_application_credential(*, credential: ApplicationCredential) -> None:
    """Delete a credential; the tokens issued with it go with it (refused at once)."""
    credential.delete()


def ensure_may_create_application_credential(*, token: Token | None) -> None:
    """Keystone's rule: a token from a restricted application credential cannot make more
    credentials (else a leaked one would outlive its own deletion)."""
    credential = token.application_credential if token is not None else None
    if credential is not None and not credential.unrestricted:
        raise Forbidden(
            "Using method 'application_credential' is not allowed for managing additional "
            "application credentials."
        )


@dataclass(frozen=True)
class ApplicationCredentialRef:
    """The credential a token request names: by id, or by name with its user."""

    id: str | None = None
    name: str | None = None
    user: UserRef | None = None

    def describe(self) -> str:
        if self.id:
            return f"application-credential:{self.id}"
        owner = self.user.describe() if self.user is not None else "-"
        return f"application-credential:{owner}/{self.name}"


def _find_application_credential(ref: ApplicationCredentialRef) -> ApplicationCredential | None:
    queryset = ApplicationCredential.objects.select_related(
        "user__domain", "project__domain"
    ).prefetch_related("roles")
    if ref.id:
        return queryset.filter(pk=ref.id).first()
    if not ref.name or ref.user is None:
        return None
    user = _find_user(ref.user)
    if user is None:
        return None
    return queryset.filter(user=user, name=ref.name).first()


def issue_application_credential_token(
    *, credential: ApplicationCredentialRef, secret: str, source: str
) -> TokenGrant:
    """Keystone's application_credential method: a token for the credential's user, scoped
    to its project, with those of its roles the user still holds.

    Every refusal is the same 401 (unknown, wrong secret, expired, user disabled, no role
    left), and failures are throttled per credential and address as passwords are.
    """
    found = _find_application_credential(credential)
    subject = f"application-credential:{found.pk}" if found else credential.describe()
    failures = throttle.check_not_locked(subject=subject, source=source)
    if found is None:
        make_password(secret)  # spend the hash's time: timing does not reveal which exist
        verified = False
    else:
        verified = check_password(secret, found.secret_hash)
    if found is None or not verified:
        throttle.record_failure(subject=subject, source=source)
        raise AuthenticationRequired()
    if failures:
        throttle.clear_failures(subject=subject, source=source)
    expired = found.expires_at is not None and found.expires_at <= timezone.now()
    user = found.user
    if expired or not user.is_active or not user.domain.enabled or not _usable(found.project):
        raise AuthenticationRequired()
    allowed = {role.pk for role in found.roles.all()}
    roles = [role for role in _roles_on(user, found.project) if role.pk in allowed]
    if not roles:
        raise AuthenticationRequired()
    issued = issue_token(
        user=user,
        project=found.project,
        methods=["application_credential"],
        application_credential=found,
    )
    return TokenGrant(issued=issued, roles=roles)
