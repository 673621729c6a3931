"""Fixtures of the volume tests: a storage pool on a compute host that is up, and helpers to
call the block-storage API as a client does."""

import base64
import json
from collections.abc import Callable
from typing import Any

import pytest
import redis

from apps.conductor import tasks as conductor_tasks
from apps.hosts.services import ensure_compute_service, record_heartbeat
from apps.volumes import pools
from apps.volumes.models import StoragePool
from computecloud.queues import compute_queue

API = "/volume/v3"


def header(version: str) -> dict[str, str]:
    return {"HTTP_OPENSTACK_API_VERSION": f"volume {version}"}


@pytest.fixture
def make_pool(db: None) -> Callable[..., StoragePool]:
    """A file pool of `total_gb` on compute host `host`, whose service is up."""

    def make(host: str = "storage-1", total_gb: int = 100, backend: str = "file") -> StoragePool:
        ensure_compute_service(host=host)
        record_heartbeat(host=host)
        pools.report_pool(
            host=host,
            storage={
                "backend": backend,
                "shared": False,
                "total_gb": total_gb,
                "free_gb": total_gb,
            },
        )
        return StoragePool.objects.get(host=host, backend=backend)

    return make


@pytest.fixture
def pool(make_pool: Callable[..., StoragePool]) -> StoragePool:
    return make_pool()


def ok(response: Any, expected: int = 200) -> Any:
    assert response.status_code == expected, (response.status_code, response.content[:500])
    return response.json() if response.content else None


def cinder_error(response: Any, status: int, name: str) -> str:
    """The message of a Cinder-shaped error (checked for status, JSON and name)."""
    assert response.status_code == status, (response.status_code, response.content[:500])
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert list(body) == [name], body
    assert body[name]["code"] == status
    return body[name]["message"]


def create_volume(client: Any, expected: int = 202, version: str = "3.0", **attrs: Any) -> Any:
    attrs.setdefault("size", 1)
    response = client.post(f"{API}/volumes", {"volume": attrs}, format="json", **header(version))
    body = ok(response, expected)
    return body["volume"] if expected == 202 else body


def host_reports(
    volume_id: Any,
    operation: str,
    *,
    ok: bool = True,
    snapshot_id: Any = None,
    host: str = "storage-1",
    message: str = "disk full",
) -> None:
    """What a host sends when a storage operation ends: the conductor's task, run here."""
    conductor_tasks.volume_done(
        host=host,
        operation=operation,
        volume_id=str(volume_id),
        snapshot_id=str(snapshot_id) if snapshot_id else None,
        request_id="req-test",
        ok=ok,
        fault=None if ok else {"message": message, "details": "Traceback..."},
    )


def available_volume(client: Any, **attrs: Any) -> dict[str, Any]:
    volume = create_volume(client, **attrs)
    host_reports(volume["id"], "create")
    return volume


@pytest.fixture
def host_queue(settings: Any) -> Any:
    """The messages sent to compute host storage-1, oldest first, as (task, payload)."""
    connection = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    queue = compute_queue("storage-1")
    connection.delete(queue)

    def read() -> list[tuple[str, dict[str, Any]]]:
        messages = []
        for raw in reversed(connection.lrange(queue, 0, -1)):
            message = json.loads(raw)
            _args, kwargs, _embed = json.loads(base64.b64decode(message["body"]))
            messages.append((message["headers"]["task"], kwargs["payload"]))
        return messages

    yield read
    connection.delete(queue)
