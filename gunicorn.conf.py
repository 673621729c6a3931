"""gunicorn settings every ``gunicorn computecloud.wsgi`` reads from the working directory
(command-line options, as in the Procfile, still win)."""

# Signed image URLs carry a bearer signature: the access log redacts it.
logger_class = "computecloud.gunicorn_logging.RedactingLogger"
