from apps.servers.api import audit_log, groups, interfaces, migrations_api, usage, views, volumes
from computecloud.api.routers import OpenStackRouter

router = OpenStackRouter()
router.register("servers", views.ServerViewSet, basename="server")
router.register(
    r"servers/(?P<server_id>[^/]+)/metadata", views.MetadataViewSet, basename="server-meta"
)
router.register(r"servers/(?P<server_id>[^/]+)/tags", views.TagViewSet, basename="server-tag")
router.register(r"servers/(?P<server_id>[^/]+)/ips", views.IpsViewSet, basename="server-ip")
router.register(
    r"servers/(?P<server_id>[^/]+)/os-interface",
    interfaces.InterfaceViewSet,
    basename="server-interface",
)
router.register(
    r"servers/(?P<server_id>[^/]+)/os-volume_attachments",
    volumes.VolumeAttachmentViewSet,
    basename="server-volume-attachment",
)
router.register(
    r"servers/(?P<server_id>[^/]+)/os-instance-actions",
    views.InstanceActionViewSet,
    basename="server-action",
)
router.register(
    r"servers/(?P<server_id>[^/]+)/migrations",
    migrations_api.ServerMigrationViewSet,
    basename="server-migration",
)
router.register("os-server-groups", groups.ServerGroupViewSet, basename="server-group")
router.register(
    "os-simple-tenant-usage", usage.SimpleTenantUsageViewSet, basename="simple-tenant-usage"
)
router.register("os-migrations", migrations_api.MigrationViewSet, basename="migration")
router.register(
    "os-instance_usage_audit_log",
    audit_log.InstanceUsageAuditLogViewSet,
    basename="instance-usage-audit-log",
)

urlpatterns = router.urls
