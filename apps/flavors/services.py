"""Flavor writes: create, delete, extra specs and access (every write goes through here)."""

from django.db import IntegrityError, transaction
from django.db.models import QuerySet

from apps.flavors.exceptions import FlavorExists, FlavorNotFound
from apps.flavors.models import Flavor, FlavorAccess, FlavorExtraSpec
from apps.identity.context import RequestContext
from computecloud.exceptions import Conflict, NotFound


def readable_flavors(context: RequestContext) -> QuerySet[Flavor]:
    """Every flavor `context` may read, disabled ones included: all for an admin, else the
    public ones and those shared with its project (Nova's flavor query for a context). A
    private flavor outside this set must answer as one that does not exist."""
    if context.is_admin:
        return Flavor.objects.all()
    return Flavor.objects.for_project(context.project_id)


def get_flavor(context: RequestContext, flavor_id: str) -> Flavor:
    """One flavor `context` may read; a private one not shared with it is a 404, in the
    words of a flavor that does not exist (Nova's Flavor.get_by_flavor_id for a context)."""
    flavor = readable_flavors(context).filter(flavorid=flavor_id).first()
    if flavor is None:
        raise FlavorNotFound(flavor_id=flavor_id)
    return flavor


# (name, id, vcpus, MiB, GiB): Nova's classic sizes plus a nano one for tiny guests.
STANDARD_FLAVORS = [
    ("m1.nano", "0", 1, 128, 1),
    ("m1.tiny", "1", 1, 512, 1),
    ("m1.small", "2", 1, 2048, 20),
    ("m1.medium", "3", 2, 4096, 40),
    ("m1.large", "4", 4, 8192, 80),
]


def create_flavor(
    *,
    name: str,
    flavorid: str,
    memory_mb: int,
    vcpus: int,
    root_gb: int,
    ephemeral_gb: int = 0,
    swap: int = 0,
    rxtx_factor: float = 1.0,
    is_public: bool = True,
    description: str | None = None,
) -> Flavor:
    if Flavor.objects.filter(name=name).exists():
        raise FlavorExists(what="name", value=name)
    if Flavor.objects.filter(flavorid=flavorid).exists():
        raise FlavorExists(what="ID", value=flavorid)
    try:
        with transaction.atomic():
            return Flavor.objects.create(
                name=name,
                flavorid=flavorid,
                memory_mb=memory_mb,
                vcpus=vcpus,
                root_gb=root_gb,
                ephemeral_gb=ephemeral_gb,
                swap=swap,
                rxtx_factor=rxtx_factor,
                is_public=is_public,
                description=description,
            )
    except IntegrityError:  # a concurrent create won the race
        raise FlavorExists(what="name", value=name) from None


def ensure_standard_flavors() -> None:
    for name, flavorid, vcpus, memory_mb, root_gb in STANDARD_FLAVORS:
        if not Flavor.objects.filter(name=name).exists():
            create_flavor(
                name=name, flavorid=flavorid, memory_mb=memory_mb, vcpus=vcpus, root_gb=root_gb
            )


def delete_flavor(*, flavor: Flavor) -> None:
    # Servers keep their own snapshot of the flavor, so deleting one never breaks them.
    flavor.delete()


@transaction.atomic
def set_extra_specs(*, flavor: Flavor, specs: dict[str, str]) -> dict[str, str]:
    for key, value in specs.items():
        FlavorExtraSpec.objects.update_or_create(flavor=flavor, key=key, defaults={"value": value})
    return dict(flavor.extra_specs.values_list("key", "value"))


def delete_extra_spec(*, flavor: Flavor, key: str) -> None:
    deleted, _ = FlavorExtraSpec.objects.filter(flavor=flavor, key=key).delete()
    if not deleted:
        raise NotFound(f"Flavor {flavor.flavorid} has no extra specs with key {key}.")


def add_access(*, flavor: Flavor, project_id: str) -> None:
    if flavor.is_public:
        raise Conflict("Can not add access to a public flavor.")
    _, created = FlavorAccess.objects.get_or_create(flavor=flavor, project_id=project_id)
    if not created:
        raise Conflict(
            f"Flavor access already exists for flavor {flavor.flavorid} and project "
            f"{project_id} combination."
        )


def remove_access(*, flavor: Flavor, project_id: str) -> None:
    deleted, _ = FlavorAccess.objects.filter(flavor=flavor, project_id=project_id).delete()
    if not deleted:
        raise NotFound(f"Flavor access not found for {flavor.flavorid} / {project_id} combination.")


def update_flavor_description(*, flavor: Flavor, description: str | None) -> Flavor:
    Flavor.objects.filter(pk=flavor.pk).update(description=description)
    flavor.refresh_from_db()
    return flavor
