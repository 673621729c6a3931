"""WSGI entry point of the metadata service, for a WSGI server run by hand
(``gunicorn apps.metadata.wsgi``); ``manage.py metadata_server`` needs none of this."""

import os

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "computecloud.settings")
django.setup(set_prefix=False)

from apps.metadata.handler import MetadataHandler  # noqa: E402 -- needs the set-up above

application = MetadataHandler()
