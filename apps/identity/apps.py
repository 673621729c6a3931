from django.apps import AppConfig


class IdentityConfig(AppConfig):
    name = "apps.identity"
    label = "identity"

    def ready(self) -> None:
        from apps.identity import checks  # noqa: F401  (registers the system checks)
