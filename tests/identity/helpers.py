"""Token request bodies as the real clients send them (KEYSTONE-SUBSET.md §3.1)."""

from typing import Any

from rest_framework.test import APIClient

from apps.identity.models import Project, User

PASSWORD = "secret-password"  # what tests.factories.UserFactory sets
TOKENS = "/identity/v3/auth/tokens"


def password_body(
    *,
    user: User | None = None,
    username: str | None = None,
    password: str = PASSWORD,
    user_domain: dict[str, str] | None = None,
    by_user_id: bool = False,
    project: Project | None = None,
    by_project_id: bool = False,
    project_domain: dict[str, str] | None = None,
    scope: Any = None,
) -> dict[str, Any]:
    """A password-method body; by default names user and project with domain names."""
    if by_user_id:
        assert user is not None
        user_part: dict[str, Any] = {"id": user.pk, "password": password}
    else:
        user_part = {
            "name": username or (user.username if user else "nobody"),
            "password": password,
            "domain": user_domain or {"name": "Default"},
        }
    auth: dict[str, Any] = {"identity": {"methods": ["password"], "password": {"user": user_part}}}
    if scope is not None:
        auth["scope"] = scope
    elif project is not None:
        if by_project_id:
            auth["scope"] = {"project": {"id": project.pk}}
        else:
            auth["scope"] = {
                "project": {"name": project.name, "domain": project_domain or {"name": "Default"}}
            }
    return {"auth": auth}


def issue(client: APIClient, body: dict[str, Any], query: str = "") -> Any:
    return client.post(f"{TOKENS}{query}", body, format="json")
