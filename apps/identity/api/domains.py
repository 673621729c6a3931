"""``/v3/domains``, read only: admins see every domain, others the domains of their own user
and of the projects they hold a role on (any other is a 404)."""

from django.db.models import Q, QuerySet
from rest_framework.request import Request
from rest_framework.response import Response

from apps.identity.api import admin_serializers as a
from apps.identity.api import serializers as s
from apps.identity.api.views import KeystoneView, filtered
from apps.identity.context import RequestContext
from apps.identity.exceptions import DomainNotFound
from apps.identity.filtersets import DomainFilterSet
from apps.identity.models import Domain


def visible_domains(context: RequestContext) -> QuerySet[Domain]:
    domains = Domain.objects.all()
    if context.is_admin:
        return domains
    return domains.filter(
        Q(users__pk=context.user_id) | Q(projects__role_assignments__user_id=context.user_id)
    ).distinct()


class DomainListView(KeystoneView):
    """``GET /v3/domains`` (filters ``name``, ``enabled``)."""

    policy_actions = {"get": "identity:list_domains"}

    def get(self, request: Request) -> Response:
        domains = filtered(DomainFilterSet(request.query_params, visible_domains(request.auth)))
        return Response(
            {
                "domains": [a.render_domain(d) for d in domains.order_by("name")],
                "links": s.collection_links("domains"),
            }
        )


class DomainDetailView(KeystoneView):
    policy_actions = {"get": "identity:get_domain"}

    def get(self, request: Request, domain_id: str) -> Response:
        domain = visible_domains(request.auth).filter(pk=domain_id).first()
        if domain is None:
            raise DomainNotFound(domain=domain_id)
        return Response({"domain": a.render_domain(domain)})
