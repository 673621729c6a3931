"""os-migrations (every project's resizes and cold migrations, for admins) and
/servers/{id}/migrations (a server's in-progress live migrations, 2.23+).

Shapes by microversion, as Nova's: ``migration_type`` from 2.23, ``uuid`` and paging
(``limit``/``marker`` = a migration uuid, newest first, ``migrations_links``) and the
``changes-since`` filter from 2.59, ``changes-before`` from 2.66, ``user_id``/``project_id``
(field and filter) from 2.80. Unknown query parameters are a 400 from 2.59. Migrations of
deleted servers are not listed (Nova soft-deletes them with the instance).

Our names → Nova's: ``source_host`` is ``source_compute``, ``dest_host`` is ``dest_compute``,
Nova's ``dest_host`` is the destination's IP (its compute node's ``host_ip``);
``old/new_instance_type_id`` are the flavors' database ids (null once a flavor is deleted).
A migration's ``user_id``/``project_id`` are those of whoever started it. Live migration
does not exist yet, so a server's in-progress live migrations are always none; the query is
written for when it does. Nothing is written here.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from django.conf import settings
from django.db.models import Q, QuerySet
from django.utils.dateparse import parse_datetime
from rest_framework import viewsets
from rest_framework.request import Request
from rest_framework.response import Response

from apps.flavors.models import Flavor
from apps.hosts.models import ComputeNode
from apps.identity.policy import allowed, authorize
from apps.servers import services
from apps.servers.models import Migration, Server
from computecloud.api.microversions import APIVersion, MicroversionedMixin
from computecloud.api.pagination import after_marker, next_links, parse_limit
from computecloud.api.timeformat import iso_micro
from computecloud.exceptions import InvalidInput, NotFound

# Newest first: Nova's sort for the paged list (created_at, id; both descending).
ORDER = ["-created_at", "-id"]
LIVE_MIGRATION = "live-migration"
# Nova's in-progress statuses of a live migration (the ones /servers/{id}/migrations lists).
LIVE_MIGRATION_IN_PROGRESS = ("queued", "preparing", "running", "post-migrating")
TRUE_STRINGS = {"1", "true", "True", "TRUE", "yes", "on"}

FILTERS_V20 = {"hidden", "host", "instance_uuid", "source_compute", "status", "migration_type"}
FILTERS_V259 = FILTERS_V20 | {"limit", "marker", "changes-since"}
FILTERS_V266 = FILTERS_V259 | {"changes-before"}
FILTERS_V280 = FILTERS_V266 | {"user_id", "project_id"}


def _allowed_params(version: APIVersion) -> set[str]:
    if version >= (2, 80):
        return FILTERS_V280
    if version >= (2, 66):
        return FILTERS_V266
    if version >= (2, 59):
        return FILTERS_V259
    return FILTERS_V20


def _reject_unknown(request: Request, allowed_params: set[str]) -> None:
    """From 2.59 os-migrations refuses query parameters it does not know."""
    unknown = sorted(set(request.query_params) - allowed_params)
    if unknown:
        raise InvalidInput(
            f"Invalid input for query parameters {', '.join(unknown)}. Additional properties "
            f"are not allowed ({', '.join(repr(u) for u in unknown)} "
            f"{'was' if len(unknown) == 1 else 'were'} unexpected)"
        )


def _parse_time(name: str, text: str) -> datetime:
    try:
        value = parse_datetime(text)
    except ValueError:
        value = None
    if value is None:
        raise InvalidInput(
            f"Invalid input for query parameters {name}. Value: {text}. "
            f"'{text}' is not a 'date-time'"
        )
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def filter_migrations(
    queryset: QuerySet[Migration], params: Any, version: APIVersion
) -> QuerySet[Migration]:
    """Nova's os-migrations filters, each only from the microversion that has it."""
    if params.get("hidden") in TRUE_STRINGS:
        # Nova hides the migrations it keeps for a cross-cell move's bookkeeping; we have
        # none, so asking for the hidden ones finds nothing.
        return queryset.none()
    if "status" in params:
        queryset = queryset.filter(status=params["status"])
    if "host" in params:
        queryset = queryset.filter(Q(source_host=params["host"]) | Q(dest_host=params["host"]))
    elif "source_compute" in params:
        queryset = queryset.filter(source_host=params["source_compute"])
    if "migration_type" in params:
        queryset = queryset.filter(migration_type=params["migration_type"])
    if "instance_uuid" in params:
        try:
            instance_uuid = uuid.UUID(params["instance_uuid"])
        except ValueError:
            return queryset.none()
        queryset = queryset.filter(server__uuid=instance_uuid)
    since = before = None
    if version >= (2, 59) and params.get("changes-since"):
        since = _parse_time("changes-since", params["changes-since"])
        queryset = queryset.filter(updated_at__gte=since)
    if version >= (2, 66) and params.get("changes-before"):
        before = _parse_time("changes-before", params["changes-before"])
        if since is not None and before < since:
            raise InvalidInput(
                "The value of changes-since must be less than or equal to changes-before."
            )
        queryset = queryset.filter(updated_at__lte=before)
    if version >= (2, 80):
        if "user_id" in params:
            queryset = queryset.filter(user_id=params["user_id"])
        if "project_id" in params:
            queryset = queryset.filter(project_id=params["project_id"])
    return queryset


class MigrationPresenter:
    """Turns a page of migrations into Nova's bodies with two look-ups for the whole page:
    the flavors' database ids and the destination hosts' IPs."""

    def __init__(self, migrations: list[Migration], *, include_host: bool) -> None:
        flavor_ids = {
            str(flavor.get("id"))
            for m in migrations
            for flavor in (m.old_flavor, m.new_flavor)
            if flavor and flavor.get("id") is not None
        }
        self.flavor_pks: dict[str, int] = dict(
            Flavor.objects.filter(flavorid__in=flavor_ids).values_list("flavorid", "id")
        )
        dest_hosts = {m.dest_host for m in migrations if m.dest_host} if include_host else set()
        self.host_ips: dict[str, str | None] = dict(
            ComputeNode.objects.filter(host__in=dest_hosts).values_list("host", "host_ip")
        )
        self.include_host = include_host

    def _flavor_pk(self, snapshot: dict[str, Any]) -> int | None:
        if not snapshot or snapshot.get("id") is None:
            return None
        return self.flavor_pks.get(str(snapshot["id"]))

    def hosts(self, migration: Migration) -> dict[str, Any]:
        if not self.include_host:
            return dict.fromkeys(
                ("dest_compute", "dest_host", "dest_node", "source_compute", "source_node")
            )
        return {
            "dest_compute": migration.dest_host,
            "dest_host": self.host_ips.get(migration.dest_host) if migration.dest_host else None,
            "dest_node": migration.dest_node or None,
            "source_compute": migration.source_host or None,
            "source_node": migration.source_node or None,
        }

    def view(self, migration: Migration, version: APIVersion) -> dict[str, Any]:
        server: Server = migration.server
        body: dict[str, Any] = {
            "id": migration.pk,
            "instance_uuid": str(server.uuid),
            **self.hosts(migration),
            "old_instance_type_id": self._flavor_pk(migration.old_flavor),
            "new_instance_type_id": self._flavor_pk(migration.new_flavor),
            "status": migration.status,
            "created_at": iso_micro(migration.created_at),
            "updated_at": iso_micro(migration.updated_at),
        }
        if version >= (2, 23):
            body["migration_type"] = migration.migration_type
            # Nova links only in-progress live migrations (/servers/{id}/migrations/{id}).
            if (
                migration.migration_type == LIVE_MIGRATION
                and migration.status in LIVE_MIGRATION_IN_PROGRESS
            ):
                body["links"] = _links(str(server.uuid), migration.pk)
        if version >= (2, 59):
            body["uuid"] = str(migration.uuid)
        if version >= (2, 80):
            body["user_id"] = migration.user_id
            body["project_id"] = migration.project_id
        return body

    def server_view(self, migration: Migration, version: APIVersion) -> dict[str, Any]:
        """One item of /servers/{id}/migrations (Nova's server_migrations `output`)."""
        server: Server = migration.server
        body: dict[str, Any] = {
            "id": migration.pk,
            "server_uuid": str(server.uuid),
            **self.hosts(migration),
            "status": migration.status,
            "created_at": iso_micro(migration.created_at),
            "updated_at": iso_micro(migration.updated_at),
            # Live migration progress; not reported by our hosts.
            "memory_total_bytes": None,
            "memory_processed_bytes": None,
            "memory_remaining_bytes": None,
            "disk_total_bytes": None,
            "disk_processed_bytes": None,
            "disk_remaining_bytes": None,
        }
        if version >= (2, 59):
            body["uuid"] = str(migration.uuid)
        if version >= (2, 80):
            body["user_id"] = migration.user_id
            body["project_id"] = migration.project_id
        return body


def _links(server_uuid: str, migration_id: int) -> list[dict[str, str]]:
    path = f"servers/{server_uuid}/migrations/{migration_id}"
    return [
        {"rel": "self", "href": f"{settings.PUBLIC_URL}/compute/v2.1/{path}"},
        {"rel": "bookmark", "href": f"{settings.PUBLIC_URL}/compute/{path}"},
    ]


class MigrationViewSet(MicroversionedMixin, viewsets.ViewSet):
    """GET /os-migrations."""

    policy_actions = {"list": "os_compute_api:os-migrations:index"}

    def list(self, request: Request) -> Response:
        context = request.auth
        version = request.version
        params = request.query_params
        paged = version >= (2, 59)
        if paged:
            _reject_unknown(request, _allowed_params(version))
        project_id = params.get("project_id") if version >= (2, 80) else None
        own_project = bool(project_id) and project_id == context.project_id
        if not own_project:
            authorize(context, "os_compute_api:os-migrations:index:all_projects")
        include_host = allowed(context, "os_compute_api:os-migrations:index:host")
        queryset = Migration.objects.filter(server__deleted=False).select_related("server")
        queryset = filter_migrations(queryset, params, version).order_by(*ORDER)
        limit = None
        if paged:
            marker = params.get("marker")
            if marker is not None:
                marker_row = _marker_migration(
                    marker, project_id=project_id if own_project else None
                )
                queryset = after_marker(queryset, marker_row, ORDER)
            limit = parse_limit(request)
            rows = list(queryset[:limit])
        else:
            rows = list(queryset)
        presenter = MigrationPresenter(rows, include_host=include_host)
        body: dict[str, Any] = {"migrations": [presenter.view(m, version) for m in rows]}
        if limit is not None:
            body.update(
                next_links(
                    request,
                    rows,
                    limit,
                    base_url=f"{settings.PUBLIC_URL}/compute/v2.1/os-migrations",
                    marker_of=lambda m: m.uuid,
                    name="migrations",
                )
            )
        return Response(body)


def _marker_migration(marker: str, *, project_id: str | None) -> Migration:
    """The marker, among the listed project's migrations when the caller lists its own
    project only: another project's is as unknown as a made-up id."""
    try:
        uuid.UUID(marker)
    except ValueError:
        raise InvalidInput(f"Marker {marker} could not be found.") from None
    rows = Migration.objects.filter(uuid=marker)
    if project_id is not None:
        rows = rows.filter(project_id=project_id)
    row = rows.first()
    if row is None:
        raise InvalidInput(f"Marker {marker} could not be found.")
    return row


class ServerMigrationViewSet(MicroversionedMixin, viewsets.ViewSet):
    """GET /servers/{id}/migrations[/{migration_id}]: in-progress live migrations (2.23+)."""

    lookup_value_regex = "[^/]+"
    policy_actions = {
        "list": "os_compute_api:servers:migrations:index",
        "retrieve": "os_compute_api:servers:migrations:show",
    }

    def _server(self, request: Request, server_id: str, action: str) -> Server:
        if request.version < (2, 23):
            raise NotFound("The resource could not be found.")
        server = services.get_server(request.auth, server_id)
        authorize(request.auth, action, target={"project_id": server.project_id})
        return server

    def _in_progress(self, server: Server) -> QuerySet[Migration]:
        return Migration.objects.filter(
            server=server,
            migration_type=LIVE_MIGRATION,
            status__in=LIVE_MIGRATION_IN_PROGRESS,
        ).select_related("server")

    def list(self, request: Request, server_id: str) -> Response:
        server = self._server(request, server_id, "os_compute_api:servers:migrations:index")
        include_host = allowed(
            request.auth,
            "os_compute_api:servers:migrations:index:host",
            target={"project_id": server.project_id},
        )
        rows = list(self._in_progress(server).order_by("id"))
        presenter = MigrationPresenter(rows, include_host=include_host)
        return Response({"migrations": [presenter.server_view(m, request.version) for m in rows]})

    def retrieve(self, request: Request, server_id: str, pk: str) -> Response:
        server = self._server(request, server_id, "os_compute_api:servers:migrations:show")
        migration = (
            Migration.objects.filter(server=server, pk=int(pk)).select_related("server").first()
            if pk.isdigit() and len(pk) < 10
            else None
        )
        if migration is None:
            raise NotFound(f"In-progress live migration {pk} is not found for server {server_id}.")
        if migration.migration_type != LIVE_MIGRATION:
            raise NotFound(f"Migration {pk} for server {server_id} is not live-migration.")
        if migration.status not in LIVE_MIGRATION_IN_PROGRESS:
            raise NotFound(f"Live migration {pk} for server {server_id} is not in progress.")
        presenter = MigrationPresenter([migration], include_host=True)
        return Response({"migration": presenter.server_view(migration, request.version)})
