"""Dashboard tests sign in through the page, as a browser does: Django's test client keeps
the session and CSRF cookies (`enforce_csrf_checks`: the token must come from the page)."""

import re
from collections.abc import Callable

import pytest
from django.test import Client

from tests.conftest import Caller

PASSWORD = "secret-password"  # tests.factories.UserFactory's
CSRF = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')


class Browser(Client):
    """A test client that signs in through /login/ and posts forms with the page's token."""

    def csrf_from(self, path: str) -> str:
        page = self.get(path)
        match = CSRF.search(page.content.decode())
        assert match, f"no CSRF token on {path}"
        return match.group(1)

    def sign_in(self, username: str, password: str = PASSWORD) -> None:
        token = self.csrf_from("/login/")
        response = self.post(
            "/login/",
            {"username": username, "password": password, "csrfmiddlewaretoken": token},
        )
        assert response.status_code == 302, response.content[:500]

    def submit(self, path: str, data: dict[str, str], *, page: str | None = None) -> object:
        token = self.csrf_from(page or "/")
        return self.post(path, {**data, "csrfmiddlewaretoken": token})


@pytest.fixture
def browser_for() -> Callable[[Caller], Browser]:
    """A signed-in browser for a caller (`make_caller`), working in the caller's project."""

    def make(caller: Caller) -> Browser:
        browser = Browser(enforce_csrf_checks=True)
        browser.sign_in(caller.user.username)
        browser.submit("/project/", {"project": caller.project.pk, "next": "/"})
        return browser

    return make
