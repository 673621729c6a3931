"""The placement app: what every compute host has and who uses it (docs/scheduler.md)."""

from django.apps import AppConfig


class PlacementConfig(AppConfig):
    name = "apps.placement"
    label = "placement"
    verbose_name = "Placement"
