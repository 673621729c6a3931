from django.apps import AppConfig


class NetworksConfig(AppConfig):
    name = "apps.networks"
    label = "networks"
    verbose_name = "Networks"

    def ready(self) -> None:
        from apps.identity import project_release
        from apps.networks.security import release_default_security_group

        # A deleted project takes the default security group the service made for it.
        project_release.register("networks", release_default_security_group)
