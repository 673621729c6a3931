"""The key pair admin: read-only pages, deletion through the service."""

import pytest
from django.test import Client

from apps.keypairs.models import KeyPair
from apps.keypairs.services import create_key_pair
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def test_pages_load_and_delete_works(client: Client) -> None:
    # given
    client.force_login(UserFactory(is_superuser=True, is_staff=True))
    keypair = create_key_pair(user_id=UserFactory().pk, project_id=None, name="k").keypair

    # when
    listing = client.get("/admin/keypairs/keypair/")
    change = client.get(f"/admin/keypairs/keypair/{keypair.pk}/change/")
    add = client.get("/admin/keypairs/keypair/add/")
    client.post(f"/admin/keypairs/keypair/{keypair.pk}/delete/", {"post": "yes"})

    # then
    assert (listing.status_code, change.status_code, add.status_code) == (200, 200, 403)
    assert not KeyPair.objects.filter(pk=keypair.pk).exists()
