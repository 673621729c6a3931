from django.apps import AppConfig


class KeypairsConfig(AppConfig):
    name = "apps.keypairs"
    label = "keypairs"
