"""The dashboard's pages, one module per subject; each view is ``view(request, context)``
behind `apps.dashboard.access.page` and calls the same service functions as the API."""
