"""The dashboard's pages, at the site's root (computecloud/urls.py includes this last).

One section per subject; each view module is named after its section.
"""

from django.urls import URLPattern, URLResolver, path

from apps.dashboard.views import (
    auth,
    flavors,
    fleet,
    images,
    keypairs,
    launch,
    overview,
    server,
    servers,
)

app_name = "dashboard"

urlpatterns: list[URLPattern | URLResolver] = [
    # signing in and out, the project switcher
    path("login/", auth.login_view, name="login"),
    path("logout/", auth.logout_view, name="logout"),
    path("project/", auth.switch_project_view, name="switch-project"),
    # the project's overview: quota usage
    path("", overview.overview, name="overview"),
    # servers
    path("servers/", servers.server_list, name="servers"),
    path("servers/rows/", servers.server_rows, name="server-rows"),
    path("servers/launch/", launch.launch, name="launch"),
    path("servers/<uuid:server_id>/action/", servers.server_action, name="server-action"),
    path("servers/<uuid:server_id>/actions/", servers.server_action_menu, name="server-actions"),
    # one server: its page and tabs
    path("servers/<uuid:server_id>/", server.server_detail, name="server"),
    path("servers/<uuid:server_id>/status/", server.server_status, name="server-status"),
    path("servers/<uuid:server_id>/log/", server.server_log, name="server-log"),
    # flavors, images, key pairs
    path("flavors/", flavors.flavor_list, name="flavors"),
    path("flavors/new/", flavors.flavor_create, name="flavor-create"),
    path("flavors/<str:flavor_id>/delete/", flavors.flavor_delete, name="flavor-delete"),
    path("images/", images.image_list, name="images"),
    path("images/new/", images.image_create, name="image-create"),
    path("images/<str:image_id>/data/", images.image_data, name="image-data"),
    path("images/<str:image_id>/delete/", images.image_delete, name="image-delete"),
    path("key-pairs/", keypairs.keypair_list, name="keypairs"),
    path("key-pairs/import/", keypairs.keypair_import, name="keypair-import"),
    path("key-pairs/new/", keypairs.keypair_generate, name="keypair-generate"),
    path("key-pairs/<str:name>/delete/", keypairs.keypair_delete, name="keypair-delete"),
    # the fleet, for admins: hypervisors, compute services, aggregates
    path("hypervisors/", fleet.hypervisor_list, name="hypervisors"),
    path("compute-services/", fleet.service_list, name="services"),
    path(
        "compute-services/<str:service_id>/disable/",
        fleet.service_disable,
        name="service-disable",
    ),
    path(
        "compute-services/<str:service_id>/<slug:change>/",
        fleet.service_change,
        name="service-change",
    ),
    path("aggregates/", fleet.aggregate_list, name="aggregates"),
    path(
        "aggregates/<str:aggregate_id>/<slug:change>/",
        fleet.aggregate_change,
        name="aggregate-change",
    ),
]
