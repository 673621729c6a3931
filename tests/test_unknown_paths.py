"""A path no route matches is a 404 in its service's error shape, for every method, with or
without a token: the clients parse the body, and Django's HTML page is none of theirs."""

from typing import Any

import pytest
from rest_framework.test import APIClient

pytestmark = pytest.mark.django_db

# (path, the body's top-level key, how its message is found)
SERVICES = [
    ("/compute/v2.1/os-server-external-events", "itemNotFound"),
    ("/compute/v2/servers/x/nothing", "itemNotFound"),
    ("/image/v2/nothing", "error"),
    ("/identity/v3/nothing/here", "error"),
    ("/network/v2.0/nothing", "NeutronError"),
    ("/volume/v3/x/nothing", "itemNotFound"),
]


@pytest.mark.parametrize(("path", "family"), SERVICES)
@pytest.mark.parametrize("method", ["get", "post", "put", "patch", "delete"])
def test_an_unknown_path_is_its_services_json_404(
    member: Any, path: str, family: str, method: str
) -> None:
    for client in (APIClient(), member.client):  # without a token, and with one
        # when
        response = getattr(client, method)(path, {}, format="json")

        # then
        assert response.status_code == 404, response.content
        assert response["Content-Type"].startswith("application/json")
        body = response.json()
        assert list(body) == [family]
        assert path in body[family]["message"]
