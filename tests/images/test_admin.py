"""The operators' image page: an edit is saved through the image service (formats only while
queued, properties never edited here), and deleting a protected image is refused."""

import pytest
from django.test import Client

from apps.identity.services import assign_roles
from apps.images.models import Image
from tests.factories import ProjectFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def operator() -> Client:
    client = Client(raise_request_exception=False)
    project = ProjectFactory()
    user = UserFactory(is_superuser=True, is_staff=True, default_project_id=project.pk)
    assign_roles(user=user, project=project, roles=["admin"])
    client.force_login(user)
    return client


def edit(operator: Client, image: Image, **fields: object) -> None:
    form = {
        "name": image.name, "visibility": image.visibility, "min_disk": image.min_disk,
        "min_ram": image.min_ram, "tags": ",".join(image.tags),
        "disk_format": image.disk_format or "", "container_format": image.container_format or "",
        **fields,
    }  # fmt: skip
    response = operator.post(f"/admin/images/image/{image.pk}/change/", form)
    assert response.status_code == 302, response.content.decode()[-2000:]


def test_an_edit_goes_through_the_service_and_formats_stay_once_active(
    operator: Client, image_id: str
) -> None:
    image = Image.objects.get(pk=image_id)
    page = operator.get(f"/admin/images/image/{image.pk}/change/").content.decode()
    assert 'name="disk_format"' not in page  # active: formats are not offered
    assert 'name="properties"' not in page

    edit(operator, image, name="renamed", min_ram=256, disk_format="raw")

    image.refresh_from_db()
    assert (image.name, image.min_ram, image.disk_format) == ("renamed", 256, "qcow2")


def test_deleting_a_protected_image_is_refused(operator: Client, image_id: str) -> None:
    Image.objects.filter(pk=image_id).update(protected=True)
    response = operator.post(
        "/admin/images/image/",
        {"action": "delete_images", "_selected_action": [image_id]},
        follow=True,
    )
    assert "protected" in response.content.decode().lower()
    assert Image.objects.filter(pk=image_id).exists()
