"""The request context: who is calling, in which project, with which roles."""

from dataclasses import dataclass, field

from apps.identity.choices import RoleName


@dataclass(frozen=True)
class RequestContext:
    """What a valid token (or a dashboard session) says about the caller.

    `request.auth` is one of these on every authenticated API request.
    """

    user_id: str
    project_id: str | None
    roles: frozenset[str] = field(default_factory=frozenset)
    token_audit_id: str | None = None
    request_id: str = "-"

    @property
    def is_admin(self) -> bool:
        return RoleName.ADMIN in self.roles

    @property
    def is_member(self) -> bool:
        return self.is_admin or RoleName.MEMBER in self.roles

    @property
    def is_reader(self) -> bool:
        return self.is_member or RoleName.READER in self.roles
