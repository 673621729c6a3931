"""Console errors, with Nova's status codes and messages."""

from computecloud.exceptions import Conflict, InvalidInput, NotFound


class ConsoleTypeInvalid(InvalidInput):
    msg_fmt = "Invalid console type %(console_type)s"


class ConsoleTypeUnavailable(InvalidInput):
    msg_fmt = "Unavailable console type %(console_type)s."


class InstanceNotReady(Conflict):
    msg_fmt = "Instance %(instance_id)s is not ready"


class ConsoleTokenNotFound(NotFound):
    msg_fmt = "Token not found"
