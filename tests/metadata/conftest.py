"""Metadata service test set-up.

- `make_instance`: a Server row as the servers app and the conductor leave it once built
  (addresses included, which project networks will fill: set-up data here);
- `metadata`: GETs through the metadata service's real WSGI handler (its own middleware and
  URLconf), with a chosen source address and headers;
- `shared_secret`: METADATA_SHARED_SECRET for this test.
"""

from __future__ import annotations

import base64
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, cast

import pytest
from django.http import HttpResponse
from django.test import RequestFactory
from pytest_django.fixtures import Settings as SettingsWrapper

from apps.identity.models import Project
from apps.metadata.handler import MetadataHandler
from apps.metadata.services import sign_instance_id
from apps.servers.choices import PowerState, VmState
from apps.servers.models import Server, ServerMetadata

USER_DATA = b"#cloud-config\nruncmd:\n  - echo hello\n"
KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBm3qH2pUKsQ5o9YbC3yJgQ2Xz0xFp2a0zXb7b9c9d9e me@example"
SECRET = "proxy-shared-secret"


def fixed(addr: str, network: str = "private") -> dict[str, list[dict[str, Any]]]:
    version = 6 if ":" in addr else 4
    return {network: [{"addr": addr, "version": version, "OS-EXT-IPS:type": "fixed"}]}


@pytest.fixture
def make_instance() -> Callable[..., Server]:
    def make(
        project: Project,
        *,
        addresses: dict[str, Any] | None = None,
        metadata: dict[str, str] | None = None,
        user_data: bytes | None = None,
        key_name: str | None = None,
        key_data: str | None = None,
        **fields: Any,
    ) -> Server:
        name = fields.pop("name", f"vm-{uuid.uuid4().hex[:6]}")
        server = Server.objects.create(
            name=name,
            hostname=fields.pop("hostname", name),
            project=project,
            user_id=fields.pop("user_id", "u-1"),
            flavor_id="f1",
            flavor={"name": "m1.small", "ephemeral": 0, "swap": 0, "extra_specs": {}},
            vcpus=1,
            memory_mb=512,
            root_gb=1,
            image_ref=str(fields.pop("image_ref", uuid.uuid4())),
            availability_zone=fields.pop("availability_zone", "nova"),
            reservation_id=f"r-{uuid.uuid4().hex[:8]}",
            vm_state=VmState.ACTIVE,
            power_state=PowerState.RUNNING,
            host="compute-1",
            node="compute-1",
            addresses=addresses or {},
            key_name=key_name,
            key_data=key_data,
            user_data=base64.b64encode(user_data).decode() if user_data is not None else None,
            **fields,
        )
        for key, value in (metadata or {}).items():
            ServerMetadata.objects.create(server=server, key=key, value=value)
        return server

    return make


@dataclass
class MetadataClient:
    handler: MetadataHandler
    factory: RequestFactory

    def get(
        self, path: str, *, remote_addr: str = "192.0.2.1", headers: dict[str, str] | None = None
    ) -> HttpResponse:
        request = self.factory.get(path, REMOTE_ADDR=remote_addr, headers=headers or {})
        return cast(HttpResponse, self.handler.get_response(request))

    def get_signed(
        self, path: str, server: Server, *, remote_addr: str = "192.0.2.250"
    ) -> HttpResponse:
        """As a proxy that signs with `SECRET` forwards a request of `server`."""
        instance_id = str(server.uuid)
        return self.get(
            path,
            remote_addr=remote_addr,
            headers={
                "X-Instance-ID": instance_id,
                "X-Tenant-ID": server.project_id,
                "X-Instance-ID-Signature": sign_instance_id(instance_id, secret=SECRET),
            },
        )


@pytest.fixture(scope="session")
def metadata_handler() -> MetadataHandler:
    return MetadataHandler()


@pytest.fixture
def metadata(db: None, metadata_handler: MetadataHandler) -> MetadataClient:
    return MetadataClient(handler=metadata_handler, factory=RequestFactory())


@pytest.fixture
def shared_secret(settings: SettingsWrapper) -> str:
    settings.COMPUTECLOUD = {
        **getattr(settings, "COMPUTECLOUD", {}),
        "METADATA_SHARED_SECRET": SECRET,
    }
    return SECRET


def text(response: HttpResponse) -> str:
    return response.content.decode()
