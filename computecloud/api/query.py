"""Query-string checks shared by the compute API's views."""

from rest_framework.request import Request

from computecloud.exceptions import InvalidInput


def check_query(request: Request, allowed: set[str]) -> None:
    """From 2.75 Nova refuses query parameters it does not know (before, it ignored them)."""
    if request.version < (2, 75):  # type: ignore[operator]  # an APIVersion; DRF types it str
        return
    unknown = sorted(set(request.query_params) - allowed)
    if unknown:
        raise InvalidInput(
            f"Invalid input for query parameters {', '.join(unknown)}. Additional properties "
            f"are not allowed ({', '.join(repr(u) for u in unknown)} "
            f"{'was' if len(unknown) == 1 else 'were'} unexpected)"
        )
