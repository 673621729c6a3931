"""Quota errors, each with its HTTP code and Nova's message."""

from computecloud.exceptions import Conflict, NotFound, QuotaExceeded


class KeypairLimitExceeded(QuotaExceeded):
    msg_fmt = "Quota exceeded, too many key pairs."


class ServerGroupLimitExceeded(QuotaExceeded):
    msg_fmt = "Quota exceeded, too many server groups."


class ServerGroupMemberLimitExceeded(QuotaExceeded):
    msg_fmt = "Quota exceeded, too many servers in group"


class MetadataLimitExceeded(QuotaExceeded):
    msg_fmt = "Maximum number of metadata items exceeds %(allowed)d"


class ProjectNotFoundForQuota(NotFound):
    msg_fmt = "Project %(project_id)s could not be found."


class OverQuota(Conflict):
    """Neutron answers an exceeded network quota with 409 and this message (the class name is
    the error type its body names)."""

    msg_fmt = "Quota exceeded for resources: ['%(overs)s']."


class VolumeOverQuota(QuotaExceeded):
    """Cinder answers an exceeded volume quota with 413 ``overLimit``."""

    code = 413
    msg_fmt = "%(reason)s"
