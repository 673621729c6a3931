"""Project B walks every list and show endpoint over project A's objects and finds none.

Project A gets one of everything a project owns (the `project_a` fixture, built by
tests/security/objects.py). Then a member and a reader of
project B call every GET operation of the OpenAPI document: lists plain and with the query
parameters that widen them (all_tenants, project or user ids), shows with A's ids in every path
parameter. No answer may be a 5xx, and no body may carry anything of A's that the request
itself did not name (an error may repeat the id it was asked about, nothing more).
"""

import pytest

from apps.servers.models import Server
from tests.security.objects import V, fill, leaks, operations

pytestmark = pytest.mark.django_db

WIDENING_QUERIES = ("all_tenants=1", "all_projects=true", "project_id={project}", "user_id={user}")


@pytest.mark.parametrize("role", ["member", "reader"])
def test_project_b_finds_none_of_project_as_objects(make_caller, project_a, role):
    # given: B, with a server of its own so that the walk is seen to read real bodies
    b = make_caller(role)
    own = Server.objects.create(
        name="b-own-server",
        project=b.project,
        user_id=b.user.pk,
        flavor_id="1",
        reservation_id="r-bown",
    )
    markers = set(project_a["markers"])
    leaked: dict[str, list[str]] = {}
    server_errors: dict[str, int] = {}
    calls = 0
    # when: every GET, lists widened, shows with A's ids
    for _, template in operations({"get"}):
        if "{" in template:
            urls = [fill(template, project_a["values"])]
        else:
            urls = [template] + [
                f"{template}?{q.format(project=project_a['project'], user=project_a['user'])}"
                for q in WIDENING_QUERIES
            ]
        for url in urls:
            response = b.client.get(url, **V)
            calls += 1
            text = response.content.decode("utf-8", "replace")
            if response.status_code >= 500 and response.status_code != 501:
                server_errors[url] = response.status_code
            found = leaks(text, url, markers)
            if found:
                leaked[f"{url} -> {response.status_code}"] = found
    # then
    assert calls > 200
    assert server_errors == {}
    assert leaked == {}
    listed = b.client.get("/compute/v2.1/servers/", **V).json()["servers"]
    assert [s["id"] for s in listed] == [str(own.uuid)]
