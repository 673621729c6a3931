"""Django's admin app with the operators' site as ``admin.site`` (apps/identity/adminsite.py).

Kept apart from the site: an app config is imported before the models are ready, and the site
needs them; Django imports `default_site` only when the site is first used."""

from django.contrib.admin.apps import AdminConfig


class OperatorAdminConfig(AdminConfig):
    default_site = "apps.identity.adminsite.OperatorAdminSite"
