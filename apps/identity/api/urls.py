"""Identity routes, below ``/identity``. Paths match with or without a trailing slash and are
never redirected (``APPEND_SLASH`` is off: a POST cannot follow a redirect)."""

from django.urls import URLPattern, URLResolver, re_path

from apps.identity.api import views

urlpatterns: list[URLPattern | URLResolver] = [
    # "" and "/": keystoneauth GETs OS_AUTH_URL exactly as typed, ".../identity" or
    # ".../identity/", and discovery must answer both (KEYSTONE-SUBSET.md §2.1).
    re_path(r"^/?$", views.VersionsView.as_view(), name="identity-versions"),
    re_path(r"^v3/?$", views.V3VersionView.as_view(), name="identity-v3"),
    re_path(r"^v3/auth/tokens/?$", views.TokensView.as_view(), name="identity-tokens"),
    re_path(r"^v3/auth/projects/?$", views.AuthProjectsView.as_view()),
    re_path(r"^v3/auth/catalog/?$", views.AuthCatalogView.as_view()),
    re_path(r"^v3/projects/?$", views.ProjectListView.as_view()),
    re_path(r"^v3/projects/(?P<project_id>[^/]+)/?$", views.ProjectDetailView.as_view()),
    re_path(r"^v3/users/?$", views.UserListView.as_view()),
    re_path(r"^v3/users/(?P<user_id>[^/]+)/?$", views.UserDetailView.as_view()),
]
