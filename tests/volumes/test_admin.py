"""The operators' volume pages: they load, lists and details, and nothing is added, changed
or deleted there (every change goes through the volume API's services)."""

import uuid

import pytest
from django.test import Client

from apps.identity.services import assign_roles
from apps.volumes.choices import AttachStatus
from apps.volumes.models import VolumeAttachment, VolumeSnapshot, VolumeType
from tests.factories import ProjectFactory, UserFactory
from tests.volumes.conftest import available_volume

pytestmark = pytest.mark.django_db


@pytest.fixture
def operator() -> Client:
    client = Client(raise_request_exception=False)
    project = ProjectFactory()
    user = UserFactory(is_superuser=True, is_staff=True, default_project_id=project.pk)
    assign_roles(user=user, project=project, roles=["admin"])
    client.force_login(user)
    return client


def test_the_pages_load_read_only(operator, member, pool):
    volume = available_volume(member.client, name="shown")
    VolumeAttachment.objects.create(
        volume_id=volume["id"], instance_uuid=uuid.uuid4(), status=AttachStatus.ATTACHED
    )
    snapshot = VolumeSnapshot.objects.create(
        project=member.project, user_id=member.user.pk, volume_id=volume["id"], size=1
    )
    kind = VolumeType.default()
    for url in (
        "/admin/volumes/volume/",
        f"/admin/volumes/volume/{volume['id']}/change/",
        "/admin/volumes/volumesnapshot/",
        f"/admin/volumes/volumesnapshot/{snapshot.pk}/change/",
        "/admin/volumes/volumetype/",
        f"/admin/volumes/volumetype/{kind.pk}/change/",
        "/admin/volumes/storagepool/",
        f"/admin/volumes/storagepool/{pool.pk}/change/",
    ):
        response = operator.get(url)
        assert response.status_code == 200, url
    assert b"shown" in operator.get("/admin/volumes/volume/").content
    for url in ("/admin/volumes/volume/add/", f"/admin/volumes/volume/{volume['id']}/delete/"):
        assert operator.get(url).status_code == 403, url
    changed = operator.post(f"/admin/volumes/volume/{volume['id']}/change/", {"size": 99})
    assert changed.status_code == 403
