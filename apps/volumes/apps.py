from django.apps import AppConfig


class VolumesConfig(AppConfig):
    name = "apps.volumes"
    label = "volumes"
    verbose_name = "Volumes"
