"""Identity model: domains, projects, users, roles and role assignments.

Ids are 32-character hex strings as Keystone's are, so they read the same in every client.
"""

import uuid
from typing import ClassVar

from django.contrib.auth.models import AbstractUser, UserManager
from django.db import models

from apps.identity.choices import DEFAULT_DOMAIN_ID


def new_id() -> str:
    return uuid.uuid4().hex


class Domain(models.Model):
    id = models.CharField(primary_key=True, max_length=64, default=new_id)
    name = models.CharField(max_length=64, unique=True)
    description = models.TextField(blank=True)
    enabled = models.BooleanField(default=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Project(models.Model):
    id = models.CharField(primary_key=True, max_length=64, default=new_id)
    name = models.CharField(max_length=64)
    domain = models.ForeignKey(Domain, on_delete=models.PROTECT, related_name="projects")
    description = models.TextField(blank=True)
    enabled = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["domain", "name"], name="project_unique_name_in_domain")
        ]

    def __str__(self) -> str:
        return self.name


class User(AbstractUser):
    """A person or service account. Passwords are hashed by Django's hashers."""

    id = models.CharField(primary_key=True, max_length=64, default=new_id)
    domain = models.ForeignKey(
        Domain, on_delete=models.PROTECT, related_name="users", default=DEFAULT_DOMAIN_ID
    )
    default_project = models.ForeignKey(
        Project, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    # Keystone keeps a user's description among its "extras" (as email); the API shows it.
    description = models.TextField(blank=True, default="")

    objects: ClassVar[UserManager["User"]] = UserManager()  # type: ignore[assignment]

    def __str__(self) -> str:
        return self.username


class Role(models.Model):
    id = models.CharField(primary_key=True, max_length=64, default=new_id)
    name = models.CharField(max_length=64, unique=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class RoleAssignment(models.Model):
    """User *user* holds role *role* on project *project*."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="role_assignments")
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="role_assignments")
    role = models.ForeignKey(Role, on_delete=models.CASCADE, related_name="assignments")

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["user", "project", "role"], name="role_assignment_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.user} is {self.role} on {self.project}"


class ApplicationCredential(models.Model):
    """A secret a user makes for a program (Terraform, CI) to authenticate as them on one
    project, with a subset of their roles there. Only the secret's hash is stored (Django's
    password hashers); the secret itself is shown once, at creation."""

    id = models.CharField(primary_key=True, max_length=64, default=new_id)
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="application_credentials")
    project = models.ForeignKey(
        Project, on_delete=models.CASCADE, related_name="application_credentials"
    )
    name = models.CharField(max_length=255)
    description = models.TextField(blank=True, default="")
    secret_hash = models.CharField(max_length=255)
    roles = models.ManyToManyField(Role, related_name="application_credentials")
    expires_at = models.DateTimeField(null=True, blank=True)
    # Keystone's flag: a restricted credential's tokens cannot make more credentials.
    unrestricted = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(
                fields=["user", "name"], name="application_credential_unique_name"
            )
        ]

    def __str__(self) -> str:
        return f"application credential {self.name} of {self.user_id}"


class Token(models.Model):
    """An issued token. Only its SHA-256 is stored; the token itself is shown once."""

    token_hash = models.CharField(max_length=64, unique=True)
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="tokens")
    project = models.ForeignKey(
        Project, on_delete=models.CASCADE, null=True, blank=True, related_name="tokens"
    )
    # Keystone's audit id: lets a user or an operator name a token without holding it.
    audit_id = models.CharField(max_length=32, unique=True)
    methods = models.JSONField(default=list)
    # Set for tokens issued with an application credential: they carry only its roles, and
    # go with it (deleting the credential deletes them, so they are refused at once).
    application_credential = models.ForeignKey(
        ApplicationCredential,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="tokens",
    )
    issued_at = models.DateTimeField()
    expires_at = models.DateTimeField(db_index=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-issued_at"]

    def __str__(self) -> str:
        return f"token {self.audit_id} of {self.user_id}"
