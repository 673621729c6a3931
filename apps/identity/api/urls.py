"""Identity routes, below ``/identity``. Paths match with or without a trailing slash and are
never redirected (``APPEND_SLASH`` is off: a POST cannot follow a redirect)."""

from django.urls import URLPattern, URLResolver, re_path

from apps.identity.api import application_credentials, domains, projects, roles, users, views
from computecloud.api.unknown import UnknownPathView

urlpatterns: list[URLPattern | URLResolver] = [
    # "" and "/": keystoneauth GETs OS_AUTH_URL exactly as typed, ".../identity" or
    # ".../identity/", and discovery must answer both (KEYSTONE-SUBSET.md §2.1).
    re_path(r"^/?$", views.VersionsView.as_view(), name="identity-versions"),
    re_path(r"^v3/?$", views.V3VersionView.as_view(), name="identity-v3"),
    re_path(r"^v3/auth/tokens/?$", views.TokensView.as_view(), name="identity-tokens"),
    re_path(r"^v3/auth/projects/?$", views.AuthProjectsView.as_view()),
    re_path(r"^v3/auth/catalog/?$", views.AuthCatalogView.as_view()),
    # administration (docs/identity.md)
    re_path(r"^v3/projects/?$", projects.ProjectListView.as_view()),
    re_path(r"^v3/projects/(?P<project_id>[^/]+)/?$", projects.ProjectDetailView.as_view()),
    re_path(
        r"^v3/projects/(?P<project_id>[^/]+)/users/(?P<user_id>[^/]+)/roles/?$",
        roles.GrantListView.as_view(),
    ),
    re_path(
        r"^v3/projects/(?P<project_id>[^/]+)/users/(?P<user_id>[^/]+)/roles/(?P<role_id>[^/]+)/?$",
        roles.GrantView.as_view(),
    ),
    re_path(r"^v3/users/?$", users.UserListView.as_view()),
    re_path(r"^v3/users/(?P<user_id>[^/]+)/?$", users.UserDetailView.as_view()),
    re_path(r"^v3/users/(?P<user_id>[^/]+)/projects/?$", users.UserProjectsView.as_view()),
    re_path(
        r"^v3/users/(?P<user_id>[^/]+)/application_credentials/?$",
        application_credentials.ApplicationCredentialListView.as_view(),
    ),
    re_path(
        r"^v3/users/(?P<user_id>[^/]+)/application_credentials/(?P<credential_id>[^/]+)/?$",
        application_credentials.ApplicationCredentialDetailView.as_view(),
    ),
    re_path(r"^v3/roles/?$", roles.RoleListView.as_view()),
    re_path(r"^v3/roles/(?P<role_id>[^/]+)/?$", roles.RoleDetailView.as_view()),
    re_path(r"^v3/role_assignments/?$", roles.RoleAssignmentListView.as_view()),
    re_path(r"^v3/domains/?$", domains.DomainListView.as_view()),
    re_path(r"^v3/domains/(?P<domain_id>[^/]+)/?$", domains.DomainDetailView.as_view()),
    re_path(r"^.*$", UnknownPathView.as_view(error_style="keystone")),
]
