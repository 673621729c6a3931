"""Servers API: /servers, /servers/detail, /servers/{id}, its actions and sub-resources.

Views parse, authorise (policy_actions), call one service and shape the response.
"""

from __future__ import annotations

import itertools
from typing import Any
from urllib.parse import quote

from django.conf import settings
from django.contrib.postgres.expressions import ArraySubquery
from django.db.models import CharField, F, Func, JSONField, OuterRef, QuerySet, Subquery
from django.db.models.functions import JSONObject
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from apps.consoles.api.views import get_vnc_console_action
from apps.hosts.choices import COMPUTE_BINARY
from apps.hosts.models import Service
from apps.identity.policy import allowed, authorize
from apps.networks import services as networks
from apps.networks.api import compute as network_proxies
from apps.networks.services import NicRequest
from apps.servers import create as server_create
from apps.servers import services
from apps.servers.actions import SIMPLE_ACTIONS
from apps.servers.api import serializers as s
from apps.servers.api.schema import SERVER_ACTIONS
from apps.servers.exceptions import ServerNotFound
from apps.servers.filtersets import ServerFilterSet, apply_special_filters, user_filters
from apps.servers.models import (
    BlockDeviceMapping,
    InstanceAction,
    InstanceFault,
    Server,
    ServerGroupMember,
    ServerMetadata,
    ServerTag,
)
from computecloud.api.microversions import MicroversionedMixin
from computecloud.api.pagination import next_links, paginate
from computecloud.exceptions import (
    Conflict,
    FeatureNotImplemented,
    Forbidden,
    InvalidInput,
    NotFound,
)

SORT_KEYS = {
    "access_ip_v4",
    "access_ip_v6",
    "availability_zone",
    "config_drive",
    "created_at",
    "display_description",
    "display_name",
    "host",
    "hostname",
    "image_ref",
    "instance_type_id",
    "kernel_id",
    "key_name",
    "launch_index",
    "launched_at",
    "locked_by",
    "node",
    "power_state",
    "progress",
    "project_id",
    "ramdisk_id",
    "root_device_name",
    "task_state",
    "terminated_at",
    "updated_at",
    "user_id",
    "uuid",
    "vm_state",
}
# Keys Nova accepted before it validated sort keys and now ignores (key and its direction
# dropped, for everyone) up to 2.74, then refuses (400) from 2.75. `locked` became a real
# key at 2.73 (schemas/servers.py SERVER_LIST_IGNORE_SORT_KEY and _V273).
IGNORED_SORT_KEYS = frozenset(
    {
        "architecture",
        "cell_name",
        "cleaned",
        "default_ephemeral_device",
        "default_swap_device",
        "deleted",
        "deleted_at",
        "disable_terminate",
        "ephemeral_gb",
        "ephemeral_key_uuid",
        "id",
        "key_data",
        "launched_on",
        "memory_mb",
        "os_type",
        "reservation_id",
        "root_gb",
        "shutdown_terminate",
        "user_data",
        "vcpus",
        "vm_mode",
    }
)
# Where each server is placed is for admins: others sorting by it get a 403, as in Nova.
ADMIN_SORT_KEYS = frozenset({"host", "node"})
# Nova's sort key → our column.
SORT_COLUMNS = {
    "display_name": "name",
    "display_description": "description",
    "instance_type_id": "flavor_id",
    "kernel_id": "image_ref",
    "ramdisk_id": "image_ref",
    "root_device_name": "image_ref",
}


# to_char patterns of the API's two timestamp shapes (computecloud/api/timeformat.py).
SECONDS = 'YYYY-MM-DD"T"HH24:MI:SS"Z"'
MICROSECONDS = 'YYYY-MM-DD"T"HH24:MI:SS.US'


def _utc_text(column: str, pattern: str) -> Func:
    """`column` (a timestamptz) as UTC text in `pattern`, formatted by PostgreSQL: parsing
    three timestamps a row into datetimes and formatting them again costs about 18 ms per
    1000 rows in Python (Django's time-zone loader is pure Python)."""
    return Func(
        F(column),
        template=f"to_char(%(expressions)s AT TIME ZONE 'UTC', '{pattern}')",
        output_field=CharField(),
    )


def prefetched(queryset: QuerySet[Server], *, user_data: bool = True) -> QuerySet[Any]:
    """Everything a server body needs, as rows for `serializers.server_detail`, in one statement
    whatever the page size.

    Metadata, tags, the latest fault and the server group come as correlated subqueries
    (arrays and a JSON object) rather than prefetches, and the rows are named tuples of the
    shown columns rather than model instances: on a page of 1000 a prefetch costs about 25 ms
    per relation and a model instance per row another 20 (bench/api.py). `user_data` (up to
    64 KiB a server) is fetched only when the caller may see it.
    """
    by_server = {"server": OuterRef("pk")}
    columns = [c for c in s.DETAIL_COLUMNS if user_data or c != "user_data"]
    return queryset.annotate(
        api_created=_utc_text("created_at", SECONDS),
        api_updated=_utc_text("updated_at", SECONDS),
        api_launched_at=_utc_text("launched_at", MICROSECONDS),
        api_terminated_at=_utc_text("terminated_at", MICROSECONDS),
        api_metadata_keys=ArraySubquery(
            ServerMetadata.objects.filter(**by_server).order_by("key").values("key")
        ),
        api_metadata_values=ArraySubquery(
            ServerMetadata.objects.filter(**by_server).order_by("key").values("value")
        ),
        api_tags=ArraySubquery(ServerTag.objects.filter(**by_server).order_by("tag").values("tag")),
        api_fault=Subquery(
            InstanceFault.objects.filter(**by_server)
            .order_by("-created_at", "-id")
            .values(
                fault=JSONObject(
                    code="code",
                    message="message",
                    details="details",
                    created=_utc_text("created_at", SECONDS),
                )
            )[:1],
            output_field=JSONField(),
        ),
        api_group_uuid=Subquery(
            ServerGroupMember.objects.filter(**by_server).values("group__uuid")[:1]
        ),
        api_volume_ids=ArraySubquery(
            BlockDeviceMapping.objects.filter(**by_server).order_by("id").values("volume_id")
        ),
        api_volume_dots=ArraySubquery(
            BlockDeviceMapping.objects.filter(**by_server)
            .order_by("id")
            .values("delete_on_termination")
        ),
    ).values_list(*columns, *s.RELATED_FIELDS, named=True)


def _block_device_mapping(data: dict[str, Any]) -> list[dict[str, Any]]:
    """The create's mappings: block_device_mapping_v2, or the legacy list; not both (400, as
    Nova)."""
    if data.get("block_device_mapping_v2") and data.get("block_device_mapping"):
        raise InvalidInput(
            "Using different block_device_mapping syntaxes is not allowed in the same request."
        )
    return list(data.get("block_device_mapping_v2") or data.get("block_device_mapping") or [])


def _requested_networks(value: Any, version: Any) -> str | list[NicRequest]:
    """The create request's ``networks`` as the services take it: "auto", "none" or the
    NICs in order. Nova's microversion rules: required from 2.37; NIC tags in 2.32-2.36 and
    from 2.42. "auto" and "none" are 2.37's words, taken at every version here: before it, Nova
    had no way to ask for no NIC, and taking them refuses no valid older request."""
    if value is None:
        if version >= (2, 37):
            raise InvalidInput(
                "Invalid input for field/attribute networks. 'networks' is a required "
                "property from microversion 2.37."
            )
        return "auto"
    if isinstance(value, str):
        return value
    tags_allowed = (2, 32) <= version < (2, 37) or version >= (2, 42)
    nics = []
    for item in value:
        if item.get("tag") is not None and not tags_allowed:
            raise InvalidInput(
                "Invalid input for field/attribute networks. Additional properties are not "
                "allowed ('tag' was unexpected)"
            )
        nics.append(
            NicRequest(
                network_id=item.get("uuid"),
                port_id=str(item["port"]) if item.get("port") else None,
                fixed_ip=item.get("fixed_ip"),
                tag=item.get("tag"),
            )
        )
    return nics


def create_request(validated: dict[str, Any], version: Any) -> server_create.CreateRequest:
    """The create service's request from `ServerCreateSerializer`'s validated data at
    `version` (the caller has checked the versioned fields). The API's create and the
    dashboard's launch form both go through here, so a form asks exactly what a request asks."""
    data = validated["server"]
    hints = validated.get("OS-SCH-HNT:scheduler_hints") or validated.get("os:scheduler_hints") or {}
    networks = _requested_networks(data.get("networks"), version)
    return server_create.CreateRequest(
        name=data["name"],
        flavor_ref=data["flavorRef"],
        image_ref=data.get("imageRef", ""),
        min_count=data["min_count"],
        max_count=data.get("max_count", data["min_count"]),
        key_name=data.get("key_name"),
        user_data=data.get("user_data"),
        metadata=data.get("metadata", {}),
        availability_zone=data.get("availability_zone"),
        networks=networks,
        security_groups=[g["name"] for g in data.get("security_groups", [])],
        block_device_mapping=_block_device_mapping(data),
        config_drive=data.get("config_drive", False),
        scheduler_hints=hints,
        description=data.get("description"),
        tags=data.get("tags", []),
        hostname=data.get("hostname"),
        access_ip_v4=data.get("accessIPv4"),
        access_ip_v6=data.get("accessIPv6"),
        requested_host=data.get("host"),
        requested_node=data.get("hypervisor_hostname"),
        version=(version.major, version.minor),
    )


@extend_schema_view(
    create=extend_schema(request=s.ServerCreateSerializer),
    update=extend_schema(request=s.ServerUpdateSerializer),
    server_action=extend_schema(request=SERVER_ACTIONS),
)
class ServerViewSet(MicroversionedMixin, viewsets.ViewSet):
    lookup_value_regex = "[^/]+"
    policy_actions = {
        "list": "os_compute_api:servers:index",
        "list_detail": "os_compute_api:servers:detail",
        "retrieve": "os_compute_api:servers:show",
        "create": "os_compute_api:servers:create",
        "update": "os_compute_api:servers:update",
        "destroy": "os_compute_api:servers:delete",
        # The action endpoint checks each action's own policy in `server_action`.
        "server_action": "os_compute_api:servers:show",
        "diagnostics": "os_compute_api:os-server-diagnostics",
    }

    # --- reading ---------------------------------------------------------------------------------
    def _list(self, request: Request, *, detail: bool) -> Response:
        context = request.auth
        params = request.query_params
        all_tenants = params.get("all_tenants") not in (None, "0", "false", "False")
        if all_tenants:
            authorize(context, "os_compute_api:servers:index:get_all_tenants")
        # What the caller may page through, deleted servers included (a marker may have been
        # deleted since the page before): its project's, every project's for an admin asking
        # all_tenants. Markers are looked up here and nowhere wider.
        scope = Server.with_deleted.all()
        if not (all_tenants and context.is_admin):
            scope = scope.filter(project_id=context.project_id)
        if "changes-since" in params or (context.is_admin and params.get("deleted") == "true"):
            queryset = scope
        else:
            queryset = services.visible_servers(context, all_tenants=all_tenants)
        filter_data = params
        if not allowed(context, "os_compute_api:servers:allow_all_filters"):
            filter_data = user_filters(params, request.version)
        queryset = ServerFilterSet(filter_data, queryset=queryset).qs
        queryset = apply_special_filters(queryset, filter_data)
        order = self._order(params, request.version, is_admin=context.is_admin)
        if detail:
            queryset = prefetched(queryset, user_data=s.shows_user_data(request.version, context))
        else:
            # A summary shows id, name and links only: fetch those two columns, nothing related.
            queryset = queryset.values_list("uuid", "name", named=True)
        rows, limit = paginate(
            request, queryset, order=order, marker_lookup="uuid", marker_scope=scope
        )
        name = "servers/detail" if detail else "servers"
        if detail:
            hosts_up = _hosts_up({r.host for r in rows if r.host}) if context.is_admin else {}
            # One query each for the page's addresses and security groups: the network
            # service's ports are the truth.
            uuids = [str(r.uuid) for r in rows]
            addresses = networks.instance_addresses(uuids)
            groups = networks.instance_security_groups(uuids)
            body = [
                s.server_detail(
                    r,
                    request.version,
                    is_admin=context.is_admin,
                    host_up=hosts_up.get(r.host),
                    listed=True,
                    addresses=addresses.get(str(r.uuid)),
                    security_groups=groups.get(str(r.uuid)),
                )
                for r in rows
            ]
        else:
            body = [s.server_summary(r) for r in rows]
        links = next_links(
            request,
            rows,
            limit,
            base_url=f"{settings.PUBLIC_URL}/compute/v2.1/{name}",
            marker_of=lambda r: r.uuid,
            name="servers",
        )
        return Response({"servers": body, **links})

    def _order(self, params: Any, version: Any, *, is_admin: bool) -> list[str]:
        """The list's order from the sort_key/sort_dir pairs, by Nova's rules: an unknown key
        is a 400, host and node are for admins (403), and the keys Nova ignores are dropped
        with their direction (nova's remove_invalid_sort_keys)."""
        ignored = set(IGNORED_SORT_KEYS) if version < (2, 75) else set()
        if version < (2, 73):
            ignored.add("locked")
        known = SORT_KEYS | ignored | {"locked"}
        pairs = list(itertools.zip_longest(params.getlist("sort_key"), params.getlist("sort_dir")))
        for key, _ in pairs:
            if key is not None and key not in known:
                raise InvalidInput(f"Invalid sort key {key}")
            if key in ADMIN_SORT_KEYS and not is_admin:
                raise Forbidden(f"Only administrators can sort servers by {key}")
        pairs = [(key, direction) for key, direction in pairs if key not in ignored]
        keys = [key for key, _ in pairs if key is not None] or ["created_at"]
        dirs = [direction for _, direction in pairs if direction is not None]
        order = []
        for index, key in enumerate(keys):
            direction = dirs[index] if index < len(dirs) else (dirs[0] if dirs else "desc")
            if direction not in ("asc", "desc"):
                raise InvalidInput(f"Invalid sort direction {direction}")
            column = SORT_COLUMNS.get(key, key)
            order.append(f"{'-' if direction == 'desc' else ''}{column}")
        order.append("-id" if order[-1].startswith("-") else "id")
        return order

    def list(self, request: Request) -> Response:
        return self._list(request, detail=False)

    @action(detail=False, methods=["get"], url_path="detail")
    def list_detail(self, request: Request) -> Response:
        return self._list(request, detail=True)

    def _server(self, request: Request, pk: str) -> Server:
        return services.get_server(request.auth, pk)

    def _show(self, request: Request, server: Server) -> dict[str, Any]:
        row = prefetched(Server.objects.filter(pk=server.pk)).first()
        if row is None:  # deleted since it was looked up
            raise ServerNotFound(uuid=server.uuid)
        host_up = _hosts_up({row.host}).get(row.host) if row.host else None
        uuid = str(row.uuid)
        return s.server_detail(
            row,
            request.version,
            is_admin=request.auth.is_admin,
            host_up=host_up,
            addresses=networks.instance_addresses([uuid]).get(uuid),
            security_groups=networks.instance_security_groups([uuid]).get(uuid),
        )

    def retrieve(self, request: Request, pk: str) -> Response:
        return Response({"server": self._show(request, self._server(request, pk))})

    @action(detail=True, methods=["get"], url_path="diagnostics")
    def diagnostics(self, request: Request, pk: str) -> Response:
        """Admins' view of a guest's counters: compute hosts do not report them yet, which
        Nova answers, for a driver without diagnostics, with a 501."""
        self._server(request, pk)
        raise FeatureNotImplemented(reason="server diagnostics are not reported by hosts.")

    # --- writing ---------------------------------------------------------------------------------
    def create(self, request: Request) -> Response:
        serializer = s.ServerCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data["server"]
        self._check_versioned_fields(data, request.version)
        create = create_request(serializer.validated_data, request.version)
        servers, reservation_id = server_create.create_servers(
            context=request.auth, request=create, request_id=request.request_id
        )
        if data.get("return_reservation_id"):
            return Response({"reservation_id": reservation_id}, status=202)
        server = servers[0]
        body = {
            "server": {
                "id": str(server.uuid),
                "links": s.server_summary(server)["links"],
                "OS-DCF:diskConfig": "MANUAL",
                "security_groups": data.get("security_groups") or [{"name": "default"}],
                "adminPass": data.get("adminPass") or _password(),
            }
        }
        response = Response(body, status=202)
        response["Location"] = body["server"]["links"][0]["href"]
        return response

    def _check_versioned_fields(self, data: dict[str, Any], version: Any) -> None:
        gates = {
            "description": (2, 19),
            "tags": (2, 52),
            "host": (2, 74),
            "hypervisor_hostname": (2, 74),
            "hostname": (2, 90),
        }
        for key, minimum in gates.items():
            if key in data and version < minimum:
                raise InvalidInput(
                    f"Invalid input for field/attribute server. Additional properties are not "
                    f"allowed ('{key}' was unexpected)"
                )

    def update(self, request: Request, pk: str) -> Response:
        serializer = s.ServerUpdateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data["server"]
        self._check_versioned_fields(data, request.version)
        server = self._server(request, pk)
        changes = {
            "name": data.get("name"),
            "description": data.get("description"),
            "access_ip_v4": data.get("accessIPv4"),
            "access_ip_v6": data.get("accessIPv6"),
            "hostname": data.get("hostname"),
        }
        changes = {k: v for k, v in changes.items() if k in _present(data)}
        services.update_server(context=request.auth, server=server, changes=changes)
        body = s.written_server_view(self._show(request, server), request.version)
        return Response({"server": body})

    def destroy(self, request: Request, pk: str) -> Response:
        server = self._server(request, pk)
        services.delete_server(context=request.auth, server=server, request_id=request.request_id)
        return Response(status=204)

    # --- POST /servers/{id}/action ---------------------------------------------------------------
    @action(detail=True, methods=["post"], url_path="action")
    def server_action(self, request: Request, pk: str) -> Response:
        body = request.data
        if not isinstance(body, dict) or len(body) != 1:
            raise InvalidInput("There is no such action: the body must name exactly one action.")
        name, args = next(iter(body.items()))
        handler = ACTION_HANDLERS.get(name)
        if handler is None:
            raise InvalidInput(f"There is no such action: {name}")
        server = self._server(request, pk)
        return handler(self, request, server, args)


def _present(data: dict[str, Any]) -> set[str]:
    mapping = {"accessIPv4": "access_ip_v4", "accessIPv6": "access_ip_v6"}
    return {mapping.get(k, k) for k in data}


def _password() -> str:
    import secrets

    return secrets.token_urlsafe(9)


def _hosts_up(hosts: set[str]) -> dict[str, bool]:
    return {
        svc.host: svc.is_up for svc in Service.objects.filter(host__in=hosts, binary=COMPUTE_BINARY)
    }


def _validated(serializer_class: Any, args: Any) -> dict[str, Any]:
    serializer = serializer_class(data=args if args is not None else {})
    serializer.is_valid(raise_exception=True)
    return dict(serializer.validated_data)


def _simple(name: str, action_name: str | None = None) -> Any:
    def handler(view: ServerViewSet, request: Request, server: Server, args: Any) -> Response:
        key = action_name or name
        authorize(request.auth, SIMPLE_ACTIONS[key].policy)
        services.run_simple_action(
            context=request.auth, server=server, action_name=key, request_id=request.request_id
        )
        return Response(status=202)

    return handler


def _reboot(view: ServerViewSet, request: Request, server: Server, args: Any) -> Response:
    data = _validated(s.RebootBody, args)
    hard = data["type"].upper() == "HARD"
    return _simple("reboot", "reboot_hard" if hard else "reboot")(view, request, server, args)


def _lock(view: ServerViewSet, request: Request, server: Server, args: Any) -> Response:
    authorize(request.auth, "os_compute_api:os-lock-server:lock")
    data = _validated(s.LockBody, args)
    if "locked_reason" in data and request.version < (2, 73):
        raise InvalidInput("locked_reason is not allowed before microversion 2.73")
    services.lock_server(
        context=request.auth,
        server=server,
        reason=data.get("locked_reason"),
        request_id=request.request_id,
    )
    return Response(status=202)


def _unlock(view: ServerViewSet, request: Request, server: Server, args: Any) -> Response:
    authorize(request.auth, "os_compute_api:os-lock-server:unlock")
    services.unlock_server(context=request.auth, server=server, request_id=request.request_id)
    return Response(status=202)


def _force_delete(view: ServerViewSet, request: Request, server: Server, args: Any) -> Response:
    authorize(request.auth, "os_compute_api:os-deferred-delete:force")
    services.delete_server(
        context=request.auth, server=server, request_id=request.request_id, force=True
    )
    return Response(status=202)


def _restore(view: ServerViewSet, request: Request, server: Server, args: Any) -> Response:
    authorize(request.auth, "os_compute_api:os-deferred-delete:restore")
    # Deletes here are immediate (Nova's reclaim_instance_interval = 0): no server is ever
    # SOFT_DELETED, so there is never one to restore, which Nova answers with a 409.
    raise Conflict(
        f"Cannot 'restore' instance {server.uuid} while it is in vm_state {server.vm_state}"
    )


def _reset_state(view: ServerViewSet, request: Request, server: Server, args: Any) -> Response:
    authorize(request.auth, "os_compute_api:os-admin-actions:reset_state")
    data = _validated(s.ResetStateBody, args)
    services.reset_state(
        context=request.auth, server=server, state=data["state"], request_id=request.request_id
    )
    return Response(status=202)


def _inject_network_info(
    view: ServerViewSet, request: Request, server: Server, args: Any
) -> Response:
    authorize(request.auth, "os_compute_api:os-admin-actions:inject_network_info")
    # Nothing to inject: guests take their addresses by DHCP and read the rest from the
    # metadata service or the config drive, as under Nova's libvirt driver, whose
    # inject_network_info does nothing either.
    return Response(status=202)


def _console_output(view: ServerViewSet, request: Request, server: Server, args: Any) -> Response:
    authorize(request.auth, "os_compute_api:os-console-output")
    data = _validated(s.ConsoleOutputBody, args)
    output = services.get_console_output(
        context=request.auth, server=server, length=data.get("length")
    )
    return Response({"output": output})


def _create_image(view: ServerViewSet, request: Request, server: Server, args: Any) -> Response:
    authorize(request.auth, "os_compute_api:servers:create_image")
    data = _validated(s.CreateImageBody, args)
    image_id = services.create_image(
        context=request.auth,
        server=server,
        name=data["name"],
        metadata=data.get("metadata", {}),
        request_id=request.request_id,
    )
    if request.version >= (2, 45):
        return Response({"image_id": image_id}, status=202)
    response = Response(status=202)
    response["Location"] = f"{settings.PUBLIC_URL}/image/v2/images/{image_id}"
    return response


def _resize(view: ServerViewSet, request: Request, server: Server, args: Any) -> Response:
    authorize(request.auth, "os_compute_api:servers:resize")
    data = _validated(s.ResizeBody, args)
    services.resize_server(
        context=request.auth,
        server=server,
        flavor_ref=data["flavorRef"],
        request_id=request.request_id,
    )
    return Response(status=202)


def _confirm_resize(view: ServerViewSet, request: Request, server: Server, args: Any) -> Response:
    authorize(request.auth, "os_compute_api:servers:confirm_resize")
    services.confirm_resize(context=request.auth, server=server, request_id=request.request_id)
    return Response(status=204)


def _revert_resize(view: ServerViewSet, request: Request, server: Server, args: Any) -> Response:
    authorize(request.auth, "os_compute_api:servers:revert_resize")
    services.revert_resize(context=request.auth, server=server, request_id=request.request_id)
    return Response(status=202)


def _migrate(view: ServerViewSet, request: Request, server: Server, args: Any) -> Response:
    authorize(request.auth, "os_compute_api:os-migrate-server:migrate")
    data = _validated(s.MigrateBody, args)
    if data.get("host") and request.version < (2, 56):
        raise InvalidInput("host is not allowed before microversion 2.56")
    services.migrate_server(
        context=request.auth,
        server=server,
        host=data.get("host"),
        request_id=request.request_id,
    )
    return Response(status=202)


def _rebuild(view: ServerViewSet, request: Request, server: Server, args: Any) -> Response:
    authorize(request.auth, "os_compute_api:servers:rebuild")
    data = _validated(s.RebuildBody, args)
    gates = {"description": (2, 19), "key_name": (2, 54), "user_data": (2, 57)}
    for key, minimum in gates.items():
        if key in data and request.version < minimum:
            raise InvalidInput(
                f"{key} is not allowed before microversion {minimum[0]}.{minimum[1]}"
            )
    server = services.rebuild_server(
        context=request.auth,
        server=server,
        image_ref=data["imageRef"],
        changes={k: v for k, v in data.items() if k in REBUILD_CHANGES},
        request_id=request.request_id,
    )
    body = s.written_server_view(
        view._show(request, server), request.version, rebuild=True, user_data=server.user_data
    )
    body["adminPass"] = data.get("adminPass") or _password()
    return Response({"server": body}, status=202)


REBUILD_CHANGES = {"name", "description", "metadata", "user_data", "key_name"}

ACTION_HANDLERS: dict[str, Any] = {
    "reboot": _reboot,
    "os-stop": _simple("stop"),
    "os-start": _simple("start"),
    "pause": _simple("pause"),
    "unpause": _simple("unpause"),
    "suspend": _simple("suspend"),
    "resume": _simple("resume"),
    "lock": _lock,
    "unlock": _unlock,
    "forceDelete": _force_delete,
    "restore": _restore,
    "os-resetState": _reset_state,
    "injectNetworkInfo": _inject_network_info,
    "os-getConsoleOutput": _console_output,
    "createImage": _create_image,
    "resize": _resize,
    "confirmResize": _confirm_resize,
    "revertResize": _revert_resize,
    "migrate": _migrate,
    "rebuild": _rebuild,
    "os-getVNCConsole": get_vnc_console_action,
    "addSecurityGroup": network_proxies.add_security_group,
    "removeSecurityGroup": network_proxies.remove_security_group,
}


# --- sub-resources ------------------------------------------------------------------------------
class _ServerChild(MicroversionedMixin, viewsets.ViewSet):
    lookup_value_regex = "[^/]+"

    def _server(self, request: Request, server_id: str) -> Server:
        return services.get_server(request.auth, server_id)

    def _addresses(self, request: Request, server_id: str) -> dict[str, Any]:
        uuid = str(self._server(request, server_id).uuid)
        return networks.instance_addresses([uuid]).get(uuid) or {}


@extend_schema_view(
    create=extend_schema(request=s.MetadataBody),
    update=extend_schema(request=s.MetaItemBody),
)
class MetadataViewSet(_ServerChild):
    policy_actions = {
        "list": "os_compute_api:server-metadata:index",
        "retrieve": "os_compute_api:server-metadata:show",
        "create": "os_compute_api:server-metadata:create",
        "replace_all": "os_compute_api:server-metadata:update_all",
        "update": "os_compute_api:server-metadata:update",
        "destroy": "os_compute_api:server-metadata:delete",
    }

    def list(self, request: Request, server_id: str) -> Response:
        server = self._server(request, server_id)
        return Response({"metadata": dict(server.metadata_items.values_list("key", "value"))})

    def create(self, request: Request, server_id: str) -> Response:
        data = _validated(s.MetadataBody, request.data)
        merged = services.set_metadata(
            context=request.auth,
            server=self._server(request, server_id),
            items=data["metadata"],
            replace=False,
        )
        return Response({"metadata": merged})

    @extend_schema(request=s.MetadataBody)
    def replace_all(self, request: Request, server_id: str) -> Response:
        data = _validated(s.MetadataBody, request.data)
        merged = services.set_metadata(
            context=request.auth,
            server=self._server(request, server_id),
            items=data["metadata"],
            replace=True,
        )
        return Response({"metadata": merged})

    def retrieve(self, request: Request, server_id: str, pk: str) -> Response:
        server = self._server(request, server_id)
        item = server.metadata_items.filter(key=pk).first()
        if item is None:
            raise NotFound("Metadata item was not found")
        return Response({"meta": {item.key: item.value}})

    def update(self, request: Request, server_id: str, pk: str) -> Response:
        data = _validated(s.MetaItemBody, request.data)
        if pk not in data["meta"]:
            raise InvalidInput("Request body and URI mismatch")
        services.set_metadata(
            context=request.auth,
            server=self._server(request, server_id),
            items=data["meta"],
            replace=False,
        )
        return Response({"meta": data["meta"]})

    def destroy(self, request: Request, server_id: str, pk: str) -> Response:
        services.delete_metadata_item(
            context=request.auth, server=self._server(request, server_id), key=pk
        )
        return Response(status=204)


class TagViewSet(_ServerChild):
    policy_actions = {
        "list": "os_compute_api:os-server-tags:index",
        "retrieve": "os_compute_api:os-server-tags:show",
        "replace_all": "os_compute_api:os-server-tags:update_all",
        "delete_all": "os_compute_api:os-server-tags:delete_all",
        "update": "os_compute_api:os-server-tags:update",
        "destroy": "os_compute_api:os-server-tags:delete",
    }

    def _check_version(self, request: Request) -> None:
        if request.version < (2, 26):
            raise NotFound("The resource could not be found.")

    def list(self, request: Request, server_id: str) -> Response:
        self._check_version(request)
        server = self._server(request, server_id)
        return Response({"tags": list(server.tags.values_list("tag", flat=True))})

    @extend_schema(request=s.TagsBody)
    def replace_all(self, request: Request, server_id: str) -> Response:
        self._check_version(request)
        data = _validated(s.TagsBody, request.data)
        tags = services.set_tags(server=self._server(request, server_id), tags=data["tags"])
        return Response({"tags": tags})

    def delete_all(self, request: Request, server_id: str) -> Response:
        self._check_version(request)
        services.set_tags(server=self._server(request, server_id), tags=[])
        return Response(status=204)

    def retrieve(self, request: Request, server_id: str, pk: str) -> Response:
        self._check_version(request)
        if not self._server(request, server_id).tags.filter(tag=pk).exists():
            raise NotFound(f"Tag '{pk}' could not be found.")
        return Response(status=204)

    def update(self, request: Request, server_id: str, pk: str) -> Response:
        self._check_version(request)
        if not s.TAG_RE.fullmatch(pk):
            raise InvalidInput(f"Invalid tag {pk!r}.")
        server = self._server(request, server_id)
        created = services.add_tag(server=server, tag=pk)
        response = Response(status=201 if created else 204)
        path = f"/compute/v2.1/servers/{server.uuid}/tags/{quote(pk, safe='')}"
        response["Location"] = f"{settings.PUBLIC_URL}{path}"
        return response

    def destroy(self, request: Request, server_id: str, pk: str) -> Response:
        self._check_version(request)
        services.delete_tag(server=self._server(request, server_id), tag=pk)
        return Response(status=204)


class IpsViewSet(_ServerChild):
    policy_actions = {"list": "os_compute_api:ips:index", "retrieve": "os_compute_api:ips:show"}

    def list(self, request: Request, server_id: str) -> Response:
        return Response({"addresses": self._addresses(request, server_id)})

    def retrieve(self, request: Request, server_id: str, pk: str) -> Response:
        addresses = self._addresses(request, server_id)
        if pk not in addresses:
            raise NotFound("Instance is not a member of specified network")
        return Response({pk: addresses[pk]})


class InstanceActionViewSet(_ServerChild):
    policy_actions = {
        "list": "os_compute_api:os-instance-actions:list",
        "retrieve": "os_compute_api:os-instance-actions:show",
    }

    def _server(self, request: Request, server_id: str) -> Server:
        # From 2.21 the actions of a deleted server stay readable.
        try:
            return services.get_server(request.auth, server_id)
        except NotFound:
            if request.version < (2, 21) or not services.is_uuid(server_id):
                raise
            query = Server.with_deleted.filter(uuid=server_id)
            if not request.auth.is_admin:
                query = query.filter(project_id=request.auth.project_id)
            server = query.first()
            if server is None:
                raise
            return server

    def list(self, request: Request, server_id: str) -> Response:
        server = self._server(request, server_id)
        actions = InstanceAction.objects.filter(server=server).select_related("server")
        return Response(
            {"instanceActions": [s.action_view(a, request.version, events=False) for a in actions]}
        )

    def retrieve(self, request: Request, server_id: str, pk: str) -> Response:
        server = self._server(request, server_id)
        found = (
            InstanceAction.objects.filter(server=server, request_id=pk)
            .select_related("server")
            .prefetch_related("events")
            .first()
        )
        if found is None:
            raise NotFound(f"Action for request_id {pk} on instance {server_id} not found")
        # Events: always for the events policy, for everyone who may see the action from 2.51;
        # their details (what failed, in words) from 2.84 under their own policy.
        target = {"project_id": server.project_id}
        full = allowed(request.auth, "os_compute_api:os-instance-actions:events", target)
        details = request.version >= (2, 84) and allowed(
            request.auth, "os_compute_api:os-instance-actions:events:details", target
        )
        view = s.action_view(
            found,
            request.version,
            events=full or request.version >= (2, 51),
            full_events=full,
            event_details=details,
        )
        return Response({"instanceAction": view})
