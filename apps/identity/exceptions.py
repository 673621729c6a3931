"""Identity's errors, each with its HTTP code and Keystone's message."""

from computecloud.exceptions import NotFound


class ProjectNotFound(NotFound):
    msg_fmt = "Could not find project: %(project)s."


class UserNotFound(NotFound):
    msg_fmt = "Could not find user: %(user)s."


class RoleNotFound(NotFound):
    msg_fmt = "Could not find role: %(role)s."


class DomainNotFound(NotFound):
    msg_fmt = "Could not find domain: %(domain)s."


class RoleAssignmentNotFound(NotFound):
    msg_fmt = (
        "Could not find role assignment with role: %(role)s, user or group: %(actor)s, "
        "project, domain, or system: %(target)s."
    )


class ApplicationCredentialNotFound(NotFound):
    msg_fmt = "Could not find Application Credential: %(credential)s."
