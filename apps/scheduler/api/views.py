"""Scheduler admin API: POST /os-scheduler/dry-run (would N instances of a flavor fit?)."""

from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.flavors.models import Flavor
from apps.identity.context import RequestContext
from apps.scheduler import services
from apps.scheduler.api.serializers import DryRunRequestSerializer
from apps.scheduler.request_spec import RequestSpec
from computecloud.exceptions import InvalidInput


class DryRunView(APIView):
    """Plan `count` instances of a flavor without claiming anything; say where and why not."""

    policy_actions = {"post": "computecloud:scheduler:dry_run"}

    def post(self, request: Request) -> Response:
        body = DryRunRequestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        flavor_id = data["flavorRef"].rstrip("/").rsplit("/", 1)[-1]
        flavor = Flavor.objects.prefetch_related("extra_specs").filter(flavorid=flavor_id).first()
        if flavor is None:
            raise InvalidInput(reason=f"flavor {flavor_id} could not be found")
        context = request.auth
        assert isinstance(context, RequestContext)  # PolicyPermission let the request in
        spec = RequestSpec.from_request(
            flavor=flavor,
            project_id=context.project_id or "",
            user_id=context.user_id,
            num_instances=data["count"],
            availability_zone=data.get("availability_zone") or None,
            image_properties=data.get("image_properties") or {},
        )
        result = services.dry_run(spec)
        return Response(
            {
                "fits": result.fits,
                "hosts": result.hosts,
                "shortfall": result.shortfall,
                "explanation": result.explanation,
            }
        )
