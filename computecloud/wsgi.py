"""WSGI entry point for the API and dashboard (gunicorn computecloud.wsgi)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "computecloud.settings")
application = get_wsgi_application()
