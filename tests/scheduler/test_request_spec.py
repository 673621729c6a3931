"""RequestSpec.from_request: resources, zones, hints, traits and groups."""

import pytest

from apps.scheduler.request_spec import FlavorSpec, RequestSpec, resources_from_flavor
from computecloud.exceptions import InvalidInput
from tests.factories import FlavorFactory
from tests.scheduler.helpers import create_group, create_host, create_server, make_spec

U1 = "3f2504e0-4f89-41d3-9a0c-0305e82c3301"


def test_resources_come_from_the_flavor_with_swap_rounded_up_to_gib():
    flavor = FlavorSpec(vcpus=2, memory_mb=4096, root_gb=20, ephemeral_gb=5, swap=1536)
    assert resources_from_flavor(flavor) == {"VCPU": 2, "MEMORY_MB": 4096, "DISK_GB": 27}


def test_resources_extra_specs_add_custom_classes_and_zero_out_standard_ones():
    flavor = FlavorSpec(
        vcpus=2,
        memory_mb=4096,
        root_gb=20,
        extra_specs={"resources:CUSTOM_GPU": "1", "resources:DISK_GB": "0"},
    )
    assert resources_from_flavor(flavor) == {"VCPU": 2, "MEMORY_MB": 4096, "CUSTOM_GPU": 1}


def test_nova_shaped_flavors_are_understood():
    spec = RequestSpec.from_request(
        flavor={"vcpus": 1, "ram": 512, "disk": 1, "OS-FLV-EXT-DATA:ephemeral": 2, "swap": ""},
        project_id="p",
    )
    assert dict(spec.resources) == {"VCPU": 1, "MEMORY_MB": 512, "DISK_GB": 3}


@pytest.mark.django_db
def test_a_flavor_model_brings_its_extra_specs():
    flavor = FlavorFactory(vcpus=2, memory_mb=256, root_gb=1)
    flavor.extra_specs.create(key="trait:CUSTOM_X", value="required")
    spec = RequestSpec.from_request(flavor=flavor, project_id="p")
    assert spec.required_traits == frozenset({"CUSTOM_X"})


def test_the_admin_zone_form_forces_a_host():
    spec = make_spec(availability_zone="az1:host3")
    assert (spec.availability_zone, spec.force_host, spec.force_node) == ("az1", "host3", None)
    only_host = make_spec(availability_zone=":host3:node3")
    assert (only_host.availability_zone, only_host.force_host, only_host.force_node) == (
        None,
        "host3",
        "node3",
    )


def test_hints_accept_one_uuid_or_a_list():
    spec = make_spec(scheduler_hints={"same_host": U1, "different_host": [U1]})
    assert spec.same_host == (U1,)
    assert spec.different_host == (U1,)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"scheduler_hints": {"same_host": "not-a-uuid"}},
        {"extra_specs": {"resources:BAD": "1"}},
        {"extra_specs": {"resources:VCPU": "-1"}},
        {
            "extra_specs": {"trait:CUSTOM_X": "required"},
            "image_properties": {"trait:CUSTOM_X": "forbidden"},
        },
        {"availability_zone": "a:b:c:d"},
    ],
)
def test_invalid_input_is_refused(kwargs):
    with pytest.raises(InvalidInput):
        make_spec(**kwargs)


def test_placeholders_are_generated_for_a_count_without_uuids():
    spec = make_spec(count=3)
    assert spec.num_instances == 3
    assert len(set(spec.instance_uuids)) == 3


@pytest.mark.django_db
def test_the_group_is_loaded_with_its_members_hosts_excluding_the_requested_instances():
    # given
    create_host("a")
    group = create_group("anti-affinity", rules={"max_server_per_host": 2})
    create_server(host="a", group=group)
    create_server(host="a", group=group)
    me = create_server(host="b", group=group)
    # when
    spec = RequestSpec.from_request(
        flavor={"vcpus": 1, "memory_mb": 1},
        project_id="p",
        instance_uuids=[me.uuid],
        scheduler_hints={"group": str(group.uuid)},
    )
    # then
    assert spec.group is not None
    assert dict(spec.group.member_hosts) == {"a": 2}
    assert spec.group.max_server_per_host == 2
