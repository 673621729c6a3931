"""Flavors API: /flavors, /flavors/detail, os-extra_specs and os-flavor-access."""

from typing import Any

from django.conf import settings
from django.db.models import Prefetch, Q, QuerySet
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from apps.flavors import services
from apps.flavors.api import serializers as s
from apps.flavors.exceptions import FlavorNotFound
from apps.flavors.filtersets import FlavorFilterSet
from apps.flavors.models import Flavor, FlavorExtraSpec
from apps.identity.context import RequestContext
from apps.identity.policy import allowed
from computecloud.api.microversions import MicroversionedMixin
from computecloud.api.pagination import next_links, paginate
from computecloud.exceptions import InvalidInput

SORT_KEYS = {
    "created_at",
    "description",
    "disabled",
    "ephemeral_gb",
    "flavorid",
    "id",
    "is_public",
    "memory_mb",
    "name",
    "root_gb",
    "rxtx_factor",
    "swap",
    "updated_at",
    "vcpus",
}


def _parse_is_public(raw: str | None) -> bool | None:
    if raw is None:
        return True
    lowered = raw.lower()
    if lowered == "none":
        return None
    if lowered in ("true", "t", "1", "yes", "y", "on"):
        return True
    if lowered in ("false", "f", "0", "no", "n", "off"):
        return False
    raise InvalidInput(f"Invalid is_public filter [{raw}]")


def visible_flavors(context: RequestContext, is_public_param: str | None) -> QuerySet[Flavor]:
    """Admins filter by is_public as asked; others see public flavors and those shared with
    their project."""
    queryset = Flavor.objects.all()
    if context.is_admin:
        is_public = _parse_is_public(is_public_param)
        if is_public is not None:
            queryset = queryset.filter(is_public=is_public)
        return queryset
    return queryset.filter(
        Q(is_public=True) | Q(projects__project_id=context.project_id), disabled=False
    ).distinct()


def create_from_body(data: dict[str, Any]) -> Flavor:
    """Create the flavor a validated create body (`FlavorCreateSerializer`'s "flavor", or the
    dashboard's form through the same fields) describes."""
    return services.create_flavor(
        name=data["name"],
        flavorid=data["id"],
        memory_mb=data["ram"],
        vcpus=data["vcpus"],
        root_gb=data["disk"],
        ephemeral_gb=data["OS-FLV-EXT-DATA:ephemeral"],
        swap=data["swap"],
        rxtx_factor=data["rxtx_factor"],
        is_public=data["os-flavor-access:is_public"],
        description=data.get("description"),
    )


@extend_schema_view(
    create=extend_schema(request=s.FlavorCreateSerializer),
    update=extend_schema(request=s.FlavorUpdateSerializer),
    flavor_action=extend_schema(request=s.FlavorActionSerializer),
)
class FlavorViewSet(MicroversionedMixin, viewsets.ViewSet):
    lookup_value_regex = "[^/]+"
    policy_actions = {
        "list": "os_compute_api:flavors:index",
        "list_detail": "os_compute_api:flavors:index",
        "retrieve": "os_compute_api:flavors:show",
        "create": "os_compute_api:os-flavor-manage:create",
        "update": "os_compute_api:os-flavor-manage:update",
        "destroy": "os_compute_api:os-flavor-manage:delete",
        "flavor_action": "os_compute_api:os-flavor-access",
        "access_list": "os_compute_api:os-flavor-access",
    }

    def _get(self, request: Request, flavor_id: str) -> Flavor:
        return services.get_flavor(request.auth, flavor_id)

    def _page(self, request: Request) -> tuple[list[Flavor], int]:
        queryset = visible_flavors(request.auth, request.query_params.get("is_public"))
        queryset = FlavorFilterSet(request.query_params, queryset=queryset).qs
        sort_key = request.query_params.get("sort_key", "flavorid")
        sort_dir = request.query_params.get("sort_dir", "asc")
        if sort_key not in SORT_KEYS or sort_dir not in ("asc", "desc"):
            raise InvalidInput(f"Invalid sort key or direction: {sort_key} {sort_dir}")
        prefix = "-" if sort_dir == "desc" else ""
        if request.version >= (2, 61):
            queryset = queryset.prefetch_related(
                Prefetch("extra_specs", queryset=FlavorExtraSpec.objects.order_by("key"))
            )
        return paginate(
            request,
            queryset,
            order=[f"{prefix}{sort_key}", f"{prefix}id"],
            marker_lookup="flavorid",
            marker_scope=services.readable_flavors(request.auth),
        )

    def _links(self, request: Request, rows: list[Flavor], limit: int, path: str) -> dict[str, Any]:
        return next_links(
            request,
            rows,
            limit,
            base_url=f"{settings.PUBLIC_URL}/compute/v2.1/{path}",
            marker_of=lambda f: f.flavorid,
            name="flavors",
        )

    def list(self, request: Request) -> Response:
        rows, limit = self._page(request)
        body = {"flavors": [s.flavor_summary(f, request.version) for f in rows]}
        return Response({**body, **self._links(request, rows, limit, "flavors")})

    @action(detail=False, methods=["get"], url_path="detail")
    def list_detail(self, request: Request) -> Response:
        rows, limit = self._page(request)
        flavors = [
            s.flavor_detail(f, request.version, extra_specs=self._specs(f, request)) for f in rows
        ]
        return Response({"flavors": flavors, **self._links(request, rows, limit, "flavors/detail")})

    def _specs(self, flavor: Flavor, request: Request) -> dict[str, str] | None:
        if request.version < (2, 61):
            return None
        # Nova shows extra specs only to those allowed to read them.

        if not allowed(request.auth, "os_compute_api:os-flavor-extra-specs:index"):
            return None
        return {spec.key: spec.value for spec in flavor.extra_specs.all()}

    def retrieve(self, request: Request, pk: str) -> Response:
        flavor = self._get(request, pk)
        body = s.flavor_detail(flavor, request.version, extra_specs=self._specs(flavor, request))
        return Response({"flavor": body})

    def create(self, request: Request) -> Response:
        serializer = s.FlavorCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data["flavor"]
        if request.version < (2, 55) and data.get("description") is not None:
            raise InvalidInput(
                "Invalid input for field/attribute flavor. "
                "description is not allowed before microversion 2.55"
            )
        flavor = create_from_body(data)
        body = s.flavor_detail(flavor, request.version, extra_specs={})
        return Response({"flavor": body})

    def update(self, request: Request, pk: str) -> Response:
        if request.version < (2, 55):
            from rest_framework.exceptions import NotFound

            raise NotFound("Not found before microversion 2.55.")
        serializer = s.FlavorUpdateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        flavor = services.update_flavor_description(
            flavor=self._get(request, pk),
            description=serializer.validated_data["flavor"]["description"],
        )
        body = s.flavor_detail(flavor, request.version, extra_specs=self._specs(flavor, request))
        return Response({"flavor": body})

    def destroy(self, request: Request, pk: str) -> Response:
        services.delete_flavor(flavor=self._get(request, pk))
        return Response(status=202)

    @action(detail=True, methods=["post"], url_path="action")
    def flavor_action(self, request: Request, pk: str) -> Response:
        serializer = s.FlavorActionSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        flavor = self._get(request, pk)
        data = serializer.validated_data
        if "addTenantAccess" in data:
            services.add_access(flavor=flavor, project_id=data["addTenantAccess"]["tenant"])
        else:
            services.remove_access(flavor=flavor, project_id=data["removeTenantAccess"]["tenant"])
        return self._access_response(flavor)

    @action(detail=True, methods=["get"], url_path="os-flavor-access")
    def access_list(self, request: Request, pk: str) -> Response:
        flavor = self._get(request, pk)
        if flavor.is_public:
            raise FlavorNotFound("Access list not available for public flavors.", flavor_id=pk)
        return self._access_response(flavor)

    def _access_response(self, flavor: Flavor) -> Response:
        access = [
            {"flavor_id": flavor.flavorid, "tenant_id": project_id}
            for project_id in flavor.projects.values_list("project_id", flat=True)
        ]
        return Response({"flavor_access": access})


@extend_schema_view(create=extend_schema(request=s.ExtraSpecsSerializer))
class ExtraSpecsViewSet(MicroversionedMixin, viewsets.ViewSet):
    lookup_value_regex = "[^/]+"
    policy_actions = {
        "list": "os_compute_api:os-flavor-extra-specs:index",
        "retrieve": "os_compute_api:os-flavor-extra-specs:show",
        "create": "os_compute_api:os-flavor-extra-specs:create",
        "update": "os_compute_api:os-flavor-extra-specs:update",
        "destroy": "os_compute_api:os-flavor-extra-specs:delete",
    }

    def _flavor(self, request: Request, flavor_id: str) -> Flavor:
        return services.get_flavor(request.auth, flavor_id)

    def list(self, request: Request, flavor_id: str) -> Response:
        flavor = self._flavor(request, flavor_id)
        return Response({"extra_specs": dict(flavor.extra_specs.values_list("key", "value"))})

    def retrieve(self, request: Request, flavor_id: str, pk: str) -> Response:
        flavor = self._flavor(request, flavor_id)
        spec = flavor.extra_specs.filter(key=pk).first()
        if spec is None:
            raise FlavorNotFound(
                f"Flavor {flavor_id} has no extra specs with key {pk}.", flavor_id=flavor_id
            )
        return Response({pk: spec.value})

    def create(self, request: Request, flavor_id: str) -> Response:
        serializer = s.ExtraSpecsSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        specs = services.set_extra_specs(
            flavor=self._flavor(request, flavor_id), specs=serializer.validated_data["extra_specs"]
        )
        return Response({"extra_specs": specs})

    def update(self, request: Request, flavor_id: str, pk: str) -> Response:
        body = request.data
        if not isinstance(body, dict) or len(body) != 1 or pk not in body:
            raise InvalidInput("Request body and URI mismatch")
        serializer = s.ExtraSpecsSerializer(data={"extra_specs": body})
        serializer.is_valid(raise_exception=True)
        services.set_extra_specs(
            flavor=self._flavor(request, flavor_id), specs=serializer.validated_data["extra_specs"]
        )
        return Response({pk: serializer.validated_data["extra_specs"][pk]})

    def destroy(self, request: Request, flavor_id: str, pk: str) -> Response:
        services.delete_extra_spec(flavor=self._flavor(request, flavor_id), key=pk)
        return Response(status=200)  # Nova's answer here is a bodiless 200, not a 202
