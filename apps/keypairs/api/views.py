"""os-keypairs: list, show, create (import or generate) and delete a user's key pairs.

Key pairs are the user's, not the project's: everyone acts on their own, so another user's
key pair is simply not found (404). From 2.10 admins may name another user with
``?user_id=`` (or ``user_id`` in the create body); anyone else naming another user gets
Nova's policy 403.
"""

from typing import Any

from django.conf import settings
from rest_framework import viewsets
from rest_framework.request import Request
from rest_framework.response import Response

from apps.identity.policy import authorize
from apps.keypairs import services
from apps.keypairs.api import serializers as s
from apps.keypairs.models import KeyPair
from computecloud.api.microversions import MicroversionedMixin
from computecloud.api.pagination import after_marker, next_links, parse_limit
from computecloud.api.query import check_query
from computecloud.exceptions import InvalidInput

ORDER = ["name", "id"]


class KeypairViewSet(MicroversionedMixin, viewsets.ViewSet):
    lookup_value_regex = "[^/]+"
    policy_actions = {
        "list": "os_compute_api:os-keypairs:index",
        "retrieve": "os_compute_api:os-keypairs:show",
        "create": "os_compute_api:os-keypairs:create",
        "destroy": "os_compute_api:os-keypairs:delete",
    }

    def _owner(self, request: Request, requested: str | None = None) -> str:
        """The user whose key pairs this request acts on, once policy allows it."""
        if requested is None and request.version >= (2, 10):
            requested = request.query_params.get("user_id")
        user_id = requested or request.auth.user_id
        authorize(request.auth, self.policy_actions[self.action], target={"user_id": user_id})
        return user_id

    def list(self, request: Request) -> Response:
        paged = request.version >= (2, 35)
        check_query(request, {"user_id", "limit", "marker"})
        user_id = self._owner(request)
        queryset = KeyPair.objects.filter(user_id=user_id).order_by(*ORDER)
        limit = None
        if paged:
            marker = request.query_params.get("marker")
            if marker is not None:
                marker_row = queryset.filter(name=marker).first()
                if marker_row is None:
                    raise InvalidInput(f"Marker {marker} could not be found.")
                queryset = after_marker(queryset, marker_row, ORDER)
            limit = parse_limit(request)
            rows = list(queryset[:limit])
        else:
            rows = list(queryset)
        body: dict[str, Any] = {
            "keypairs": [{"keypair": s.keypair_summary(k, request.version)} for k in rows]
        }
        if limit is not None:
            body.update(
                next_links(
                    request,
                    rows,
                    limit,
                    base_url=f"{settings.PUBLIC_URL}/compute/v2.1/os-keypairs",
                    marker_of=lambda k: k.name,
                    name="keypairs",
                )
            )
        return Response(body)

    def retrieve(self, request: Request, pk: str) -> Response:
        check_query(request, {"user_id"})
        keypair = services.get_key_pair(user_id=self._owner(request), name=pk)
        return Response({"keypair": s.keypair_detail(keypair, request.version)})

    def create(self, request: Request) -> Response:
        serializer = s.create_serializer(request.version, request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data["keypair"]
        user_id = self._owner(request, data.get("user_id"))
        key_type = data.get("type", "ssh")
        private_key = None
        if "public_key" in data:
            keypair = services.import_key_pair(
                user_id=user_id,
                project_id=request.auth.project_id,
                name=data["name"],
                public_key=data["public_key"],
                key_type=key_type,
            )
        else:
            created = services.create_key_pair(
                user_id=user_id,
                project_id=request.auth.project_id,
                name=data["name"],
                key_type=key_type,
            )
            keypair, private_key = created.keypair, created.private_key
        body = s.keypair_created(keypair, request.version, private_key)
        return Response({"keypair": body}, status=201 if request.version >= (2, 2) else 200)

    def destroy(self, request: Request, pk: str) -> Response:
        check_query(request, {"user_id"})
        services.delete_key_pair(user_id=self._owner(request), name=pk)
        return Response(status=204 if request.version >= (2, 2) else 202)
