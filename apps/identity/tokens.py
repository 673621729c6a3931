"""Token issue, validation and revocation. Tokens are 256-bit random, stored as SHA-256."""

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.contrib.postgres.expressions import ArraySubquery
from django.db import models
from django.db.models import OuterRef
from django.utils import timezone

from apps.identity.context import RequestContext
from apps.identity.models import ApplicationCredential, Project, RoleAssignment, Token, User
from computecloud.conf import cc_settings


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class IssuedToken:
    token: str  # the secret: returned to the client once, never stored
    record: Token


def project_roles(*, user_id: str, project_id: str) -> frozenset[str]:
    return frozenset(
        RoleAssignment.objects.filter(user_id=user_id, project_id=project_id).values_list(
            "role__name", flat=True
        )
    )


def issue_token(
    *,
    user: User,
    project: Project | None,
    methods: list[str],
    application_credential: ApplicationCredential | None = None,
) -> IssuedToken:
    """Create a token for `user` scoped to `project` (caller checked password and roles).

    A token issued with `application_credential` carries only its roles and never outlives it
    (Keystone caps the expiry the same way)."""
    secret = secrets.token_urlsafe(32)  # 256 bits
    now = timezone.now()
    expires_at = now + timedelta(seconds=cc_settings.TOKEN_TTL)
    if application_credential is not None and application_credential.expires_at is not None:
        expires_at = min(expires_at, application_credential.expires_at)
    record = Token.objects.create(
        token_hash=hash_token(secret),
        user=user,
        project=project,
        audit_id=secrets.token_urlsafe(16)[:22],
        methods=methods,
        application_credential=application_credential,
        issued_at=now,
        expires_at=expires_at,
    )
    return IssuedToken(token=secret, record=record)


def find_valid_token(secret: str, *, now: datetime | None = None) -> Token | None:
    """The live token for `secret`: known, not expired, not revoked, user and project enabled.

    Its user's role names on its project come in the same statement (``role_names``), and for
    a token issued with an application credential, those of them the credential carries
    (``credential_role_names``): every API request validates a token, so this is the one query
    authentication costs."""
    now = now or timezone.now()
    assignments = RoleAssignment.objects.filter(
        user_id=OuterRef("user_id"), project_id=OuterRef("project_id")
    )
    credential_roles = assignments.filter(
        role__application_credentials=OuterRef("application_credential_id")
    )
    return (
        Token.objects.select_related("user", "project", "project__domain", "user__domain")
        .annotate(
            role_names=ArraySubquery(assignments.values("role__name")),
            credential_role_names=ArraySubquery(credential_roles.values("role__name")),
        )
        .filter(
            token_hash=hash_token(secret),
            revoked_at__isnull=True,
            expires_at__gt=now,
            user__is_active=True,
        )
        .exclude(project__enabled=False)
        .first()
    )


def context_for_token(token: Token, *, request_id: str = "-") -> RequestContext | None:
    """The caller's context, or None when the token's user no longer holds a role there."""
    roles: frozenset[str] = frozenset()
    if token.project_id:
        # The annotations of find_valid_token; a credential's token keeps only its roles that
        # the user still holds.
        names = (
            token.credential_role_names  # type: ignore[attr-defined]
            if token.application_credential_id
            else token.role_names  # type: ignore[attr-defined]
        )
        roles = frozenset(names)
        if not roles:
            return None
    return RequestContext(
        user_id=token.user_id,
        project_id=token.project_id,
        roles=roles,
        token_audit_id=token.audit_id,
        request_id=request_id,
    )


def revoke_token(token: Token) -> None:
    Token.objects.filter(pk=token.pk, revoked_at__isnull=True).update(revoked_at=timezone.now())


def purge_tokens(*, now: datetime | None = None) -> int:
    """Delete the records of tokens that can never be valid again (expired or revoked).

    A purged token is refused exactly as a revoked one is (its hash is simply unknown), so this
    is bookkeeping only: Tempest alone leaves hundreds of tokens behind per run.
    """
    now = now or timezone.now()
    deleted, _ = Token.objects.filter(
        models.Q(expires_at__lte=now) | models.Q(revoked_at__isnull=False)
    ).delete()
    return deleted
