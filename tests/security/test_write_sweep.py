"""Every write operation of the API, made by those who may not make it, changes nothing.

Project A gets one of everything a project owns (the `project_a` fixture, built by
tests/security/objects.py). Then every POST, PUT, PATCH and DELETE of the OpenAPI document is
called with A's ids in each path parameter and the body ``{}``; the server action endpoint
once per action it knows instead (its body names the operation), and the writes that check
their body before they look up the server once more with a body they take:

- by a member and by a reader of project B: no answer is a 2xx or a 5xx. Operations with no
  id in their path act on B's own scope; they are walked too, and may create only what
  `B_MAY_CREATE` lists, in B's own project;
- by a reader of project A itself: each is refused with 403 (Nova's and Keystone's default
  policies give readers no writes), but for the few our policy lets any user make on their own
  things (`READER_MAY`); none is a 5xx.

After each walk every row of the project's apps (but tokens, `VOLATILE_MODELS`) is as it was
before. The offences of a walk are collected, so one run shows every one of them.
"""

from collections.abc import Callable
from typing import Any

import pytest

from apps.servers.api.views import ACTION_HANDLERS
from tests.security.objects import V, changes, fill, operations, snapshot

pytestmark = pytest.mark.django_db

WRITES = {"post", "put", "patch", "delete"}
SERVER_ACTION = "/servers/{id}/action/"
# The arguments an action needs before its policy is asked (null for the others); actions are
# sent at microversion 2.1, where every one of them exists (os-getVNCConsole ends at 2.5).
ACTION_ARGS = {"reboot": {"type": "SOFT"}, "os-getVNCConsole": {"type": "novnc"}}
V21 = {"HTTP_OPENSTACK_API_VERSION": "compute 2.1"}
# Writes that take no JSON: the body they do take, with its media type (a JSON one would be a
# 415 before the image is looked up).
RAW_BODIES = {
    ("PATCH", "/image/v2/images/{image_id}/"): (
        b'[{"op": "replace", "path": "/name", "value": "b-was-here"}]',
        "application/openstack-images-v2.1-json-patch",
    ),
    ("PUT", "/image/v2/images/{image_id}/file"): (b"b-was-here", "application/octet-stream"),
}

# Writes that check their body before they look up the server: the walk also sends each a
# body it takes (with A's ids where it names one), so that B's call reaches the lookup.
SERVER_BODIES: dict[tuple[str, str], Callable[[dict[str, str]], dict[str, Any]]] = {
    ("PUT", "/servers/{id}/"): lambda a: {"server": {"name": "b-was-here"}},
    ("POST", "/servers/{server_id}/metadata/"): lambda a: {"metadata": {"b": "was-here"}},
    ("PUT", "/servers/{server_id}/metadata/"): lambda a: {"metadata": {"b": "was-here"}},
    ("PUT", "/servers/{server_id}/metadata/{id}/"): lambda a: {
        "meta": {a["metadata"]: "b-was-here"}
    },
    ("PUT", "/servers/{server_id}/tags/"): lambda a: {"tags": ["b-was-here"]},
    ("POST", "/servers/{server_id}/os-volume_attachments/"): lambda a: {
        "volumeAttachment": {"volumeId": a["volumes"]}
    },
    ("POST", "/servers/{server_id}/remote-consoles/"): lambda a: {
        "remote_console": {"protocol": "vnc", "type": "novnc"}
    },
}

# Writes with no id in their path that create something of the caller's own from ``{}``,
# and the model of what they create.
B_MAY_CREATE = {
    ("POST", "/image/v2/images/"): "images.image",  # Glance: a queued image, every field optional
}

# Writes our policy (apps/identity/policy.py) lets a reader make, and why: each acts on the
# caller's own user, not on the project. Walked with ``{}`` or A's member's ids, each passes
# the policy and is then refused for its body (400) or as another user's (404).
READER_MAY = {
    ("POST", "/identity/v3/auth/tokens/"): "signing in is open to anyone",
    ("DELETE", "/identity/v3/auth/tokens/"): "a user revokes their own tokens (token_subject)",
    ("POST", "/compute/v2.1/os-keypairs/"): "key pairs are the user's own (admin_or_user)",
    ("POST", "/compute/v2/os-keypairs/"): "key pairs are the user's own (admin_or_user)",
    ("DELETE", "/compute/v2.1/os-keypairs/{id}/"): "key pairs are the user's own (admin_or_user)",
    ("DELETE", "/compute/v2/os-keypairs/{id}/"): "key pairs are the user's own (admin_or_user)",
    (
        "POST",
        "/identity/v3/users/{user_id}/application_credentials/",
    ): "a user makes their own application credentials (admin_or_user)",
    (
        "DELETE",
        "/identity/v3/users/{user_id}/application_credentials/{credential_id}/",
    ): "a user deletes their own application credentials (admin_or_user)",
}

Answer = tuple[str, str, str, int]  # method, path template, url, status


def _without_compute_prefix(template: str) -> str:
    for prefix in ("/compute/v2.1", "/compute/v2"):
        if template.startswith(prefix + "/"):
            return template.removeprefix(prefix)
    return template


def _calls(values: dict[str, str]) -> list[tuple[str, str, str, dict[str, Any]]]:
    """(method, template, url, the client's arguments) of every write with A's values."""
    calls = []
    for method, template in operations(WRITES):
        url = fill(template, values)
        if template.endswith(SERVER_ACTION):
            calls += [
                (
                    method,
                    template,
                    url,
                    {"data": {name: ACTION_ARGS.get(name)}, "format": "json", **V21},
                )
                for name in ACTION_HANDLERS
            ]
        elif (method, template) in RAW_BODIES:
            data, media_type = RAW_BODIES[method, template]
            calls.append((method, template, url, {"data": data, "content_type": media_type}))
        else:
            calls.append((method, template, url, {"data": {}, "format": "json", **V}))
        body = SERVER_BODIES.get((method, _without_compute_prefix(template)))
        if body:
            calls.append((method, template, url, {"data": body(values), "format": "json", **V}))
    return calls


def _walk(caller: Any, values: dict[str, str]) -> tuple[list[Answer], dict, dict]:
    """Every write operation by `caller`: the answers, and the database before and after."""
    before = snapshot()
    answers = []
    for method, template, url, arguments in _calls(values):
        response = getattr(caller.client, method.lower())(url, **arguments)
        answers.append((method, template, url, response.status_code))
    return answers, before, snapshot()


def _offences(
    answers: list[Answer], allowed: Callable[[str, str, int], bool]
) -> list[tuple[str, str, int]]:
    """(method, url, status) of every answer that `allowed` refuses."""
    return [(m, url, status) for m, t, url, status in answers if not allowed(m, t, status)]


def _report(offences: list[tuple[str, str, int]]) -> str:
    return "\n".join(f"{method} {url} -> {status}" for method, url, status in offences)


def _but_own(after: dict, found: dict, project_id: str) -> dict:
    """`found` without the rows of `B_MAY_CREATE`'s models added in `project_id`."""
    kept = {}
    for label, rows in found.items():
        added = [
            pk
            for pk in rows["added"]
            if label not in B_MAY_CREATE.values() or project_id not in after[label][pk].values()
        ]
        if added or rows["removed"] or rows["changed"]:
            kept[label] = {**rows, "added": added}
    return kept


@pytest.mark.parametrize("role", ["member", "reader"])
def test_project_b_changes_nothing_of_project_as(make_caller, project_a, role):
    # given: B
    b = make_caller(role)

    # when: B makes every write, with A's ids in the path
    answers, before, after = _walk(b, project_a["values"])

    # then: each is refused, or creates only what B may create of its own, and none fails
    def allowed(method: str, template: str, status: int) -> bool:
        if 200 <= status < 300:
            return (method, template) in B_MAY_CREATE
        return status < 500

    offences = _offences(answers, allowed)
    walked = {(m, t) for m, t, *_ in answers}
    assert len(walked) >= 180
    assert set(B_MAY_CREATE) <= walked
    assert offences == [], _report(offences)
    assert _but_own(after, changes(before, after), str(b.project.pk)) == {}


def test_project_as_reader_writes_nothing(make_caller, project_a):
    # given: a reader of A
    reader = make_caller("reader", project=project_a["member"].project)

    # when: the reader makes every write on A's objects
    answers, before, after = _walk(reader, project_a["values"])

    # then: each is a 403 but for the writes on the reader's own things, and nothing changed
    def allowed(method: str, template: str, status: int) -> bool:
        if (method, template) in READER_MAY:  # let through by policy, refused for its body
            return status in (400, 404)
        return status == 403

    offences = _offences(answers, allowed)
    assert set(READER_MAY) <= {(m, t) for m, t, *_ in answers}
    assert offences == [], _report(offences)
    assert changes(before, after) == {}
    # and the comparison sees a write: the member's own tag on A's server
    server = project_a["values"]["servers"]
    tagged = project_a["member"].client.put(f"/compute/v2.1/servers/{server}/tags/a-new-tag", **V)
    assert tagged.status_code == 201
    assert list(changes(after, snapshot())) == ["servers.servertag"]
