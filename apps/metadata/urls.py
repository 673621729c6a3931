"""The metadata service's URLconf: its own root, served by its own listener.

Not included in computecloud/urls.py: ``/`` there is the dashboard's, and the metadata paths
(``/openstack/...``, ``/latest/...``, ``/2009-04-04/...``) answer guests by their address,
not API clients by their token. `apps.metadata.handler.MetadataHandler` routes with it.
"""

from django.urls import re_path

from apps.metadata.views import MetadataView

urlpatterns = [
    # One tree (apps/metadata/content.py): "/", "/openstack/<version>/<file>",
    # "/[ec2/]<version>/meta-data/...", "/[ec2/]<version>/user-data".
    re_path(r"^(?P<path>.*)$", MetadataView.as_view(), name="metadata"),
]

handler404 = "apps.metadata.views.not_found"
handler500 = "apps.metadata.views.server_error"
