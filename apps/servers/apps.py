from django.apps import AppConfig


class ServersConfig(AppConfig):
    name = "apps.servers"
    label = "servers"

    def ready(self) -> None:
        from apps.identity import project_release
        from apps.servers.project_release import purge_deleted_servers

        # A deleted project takes its deleted servers' rows with it.
        project_release.register("servers", purge_deleted_servers)
