"""The image service's errors, with Glance's status codes and wording."""

from computecloud.exceptions import ComputecloudError, Conflict, Forbidden, InvalidInput, NotFound


class ImageNotFound(NotFound):
    msg_fmt = "No image found with ID %(image_id)s"


class ImageProtected(Forbidden):
    msg_fmt = "Image %(image_id)s is protected and cannot be deleted."


class ImageAttributeReadOnly(Forbidden):
    msg_fmt = "Attribute '%(attribute)s' is read-only."


class ImageAttributeReserved(Forbidden):
    msg_fmt = "Attribute '%(attribute)s' is reserved."


class ImageMetadataNotProperty(InvalidInput):
    """The Compute API's image metadata is properties only (as Nova's image proxy)."""

    msg_fmt = (
        "Image metadata key '%(key)s' is not allowed: it names an image attribute, not a "
        "property. Change image attributes through the image API."
    )


class ImageNotOwned(Forbidden):
    msg_fmt = "You are not permitted to %(action)s image %(image_id)s."


class ImageInvalid(InvalidInput):
    msg_fmt = "%(reason)s"


class ImageStatusConflict(Conflict):
    msg_fmt = "Image status transition from %(current)s to %(wanted)s is not allowed"


class ImagePropertyConflict(Conflict):
    msg_fmt = "%(reason)s"


class ImageDuplicate(Conflict):
    msg_fmt = "Image with identifier %(image_id)s already exists!"


class ImageGone(ComputecloudError):
    code = 410
    msg_fmt = (
        "Image %(image_id)s could not be found after upload. The image may have been "
        "deleted during the upload, cleaning up the chunks uploaded."
    )


class ImageTooLarge(ComputecloudError):
    code = 413
    msg_fmt = "The incoming image is too large: more than %(cap)d bytes."


class LengthRequired(ComputecloudError):
    code = 411
    msg_fmt = "Image data must be sent with Content-Length or chunked transfer encoding."


class SignedUrlInvalid(Forbidden):
    msg_fmt = "The signed URL is invalid or has expired."
