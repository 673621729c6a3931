"""Resizes left unconfirmed are confirmed automatically after RESIZE_CONFIRM_WINDOW."""

from datetime import timedelta

import pytest
from django.utils import timezone

from apps.conductor.services import confirm_expired_resizes
from apps.servers.models import Migration, Server
from tests.cloud import Cloud

pytestmark = pytest.mark.django_db(transaction=True)


def test_unconfirmed_resize_is_confirmed_after_the_window(cloud: Cloud, member, settings) -> None:
    # given: a server resized and waiting for confirmation
    body = {
        "server": {"name": "r", "imageRef": cloud.image_id, "flavorRef": "0", "networks": "none"}
    }
    server_id = member.client.post("/compute/v2.1/servers", body, format="json").json()["server"][
        "id"
    ]
    cloud.wait_for_server(member.client, server_id, {"ACTIVE"})
    action = {"resize": {"flavorRef": "1"}}
    assert (
        member.client.post(
            f"/compute/v2.1/servers/{server_id}/action", action, format="json"
        ).status_code
        == 202
    )
    cloud.wait_for_server(member.client, server_id, {"VERIFY_RESIZE"})

    # when: the window is on, but not yet over, then over
    settings.COMPUTECLOUD = {**settings.COMPUTECLOUD, "RESIZE_CONFIRM_WINDOW": 3600}
    assert confirm_expired_resizes() == 0
    Migration.objects.filter(server__uuid=server_id).update(
        updated_at=timezone.now() - timedelta(hours=2)
    )
    assert confirm_expired_resizes() == 1

    # then: confirmed like a user's confirmResize, recorded as an action
    server = cloud.wait_for_server(member.client, server_id, {"ACTIVE"})
    assert server["flavor"]["original_name"] == "m1.tiny"
    actions = member.client.get(f"/compute/v2.1/servers/{server_id}/os-instance-actions").json()
    assert "confirmResize" in [a["action"] for a in actions["instanceActions"]]
    assert Server.objects.get(uuid=server_id).vm_state == "active"
