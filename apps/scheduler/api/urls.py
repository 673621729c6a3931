"""Scheduler admin API routes (under /compute/v2.1/)."""

from django.urls import URLPattern, URLResolver, re_path

from apps.scheduler.api import views

urlpatterns: list[URLPattern | URLResolver] = [
    # scheduler (ours)
    re_path(r"^os-scheduler/dry-run/?$", views.DryRunView.as_view(), name="scheduler-dry-run"),
]
