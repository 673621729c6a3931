"""factory_boy factories for test *set-up*. Behaviour is exercised through services and the
API, never by writing state columns here."""

import factory

from apps.flavors.models import Flavor
from apps.identity.choices import DEFAULT_DOMAIN_ID
from apps.identity.models import Domain, Project, User


class DomainFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Domain
        django_get_or_create = ("id",)

    id = DEFAULT_DOMAIN_ID
    name = "Default"


class ProjectFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Project

    name = factory.Sequence(lambda n: f"project-{n}")
    domain = factory.SubFactory(DomainFactory)


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user-{n}")
    domain = factory.SubFactory(DomainFactory)
    password = factory.PostGenerationMethodCall("set_password", "secret-password")

    @factory.post_generation
    def save_password(obj: User, create: bool, extracted: object, **kwargs: object) -> None:  # noqa: N805
        if create:
            obj.save()


class FlavorFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Flavor

    name = factory.Sequence(lambda n: f"flavor-{n}")
    flavorid = factory.Sequence(lambda n: f"f{n}")
    memory_mb = 128
    vcpus = 1
    root_gb = 1
