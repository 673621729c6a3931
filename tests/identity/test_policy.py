"""The policy table and its rules: roles, targets, and operators' overrides."""

import pytest
from django.core.checks import run_checks
from pytest_django.fixtures import Settings as SettingsWrapper

from apps.identity.context import RequestContext
from apps.identity.policy import DEFAULT_POLICIES, RULES, allowed, authorize
from computecloud.exceptions import PolicyNotAuthorized

ALL_TENANTS = "os_compute_api:servers:index:get_all_tenants"


def ctx(*roles: str, project: str | None = "p1", user: str = "u1") -> RequestContext:
    return RequestContext(user_id=user, project_id=project, roles=frozenset(roles))


ADMIN = ctx("admin", "member", "reader")
MEMBER = ctx("member", "reader")
READER = ctx("reader")


def test_every_default_names_a_known_rule() -> None:
    assert set(DEFAULT_POLICIES.values()) <= set(RULES)


@pytest.mark.parametrize(("context", "expected"), [(ADMIN, True), (MEMBER, False), (READER, False)])
def test_all_tenants_listing_is_admin_only(context: RequestContext, expected: bool) -> None:
    assert allowed(context, ALL_TENANTS) is expected
    assert allowed(context, "os_compute_api:servers:detail:get_all_tenants") is expected


def test_reader_reads_but_does_not_write() -> None:
    assert allowed(READER, "os_compute_api:servers:index")
    assert allowed(READER, "os_compute_api:os-quota-sets:show")
    assert not allowed(READER, "os_compute_api:servers:create")
    assert not allowed(READER, "os_compute_api:servers:delete")


def test_project_rules_hold_only_on_the_callers_own_project() -> None:
    # given
    own = {"project_id": "p1"}
    other = {"project_id": "p2"}

    # then
    assert allowed(MEMBER, "os_compute_api:servers:create", own)
    assert not allowed(MEMBER, "os_compute_api:servers:create", other)
    assert not allowed(READER, "os_compute_api:os-quota-sets:show", other)
    assert allowed(ADMIN, "os_compute_api:os-quota-sets:show", other)


def test_unscoped_context_holds_no_project_rule() -> None:
    # given
    unscoped = ctx(project=None)

    # then
    assert not allowed(unscoped, "os_compute_api:servers:index")
    assert allowed(unscoped, "os_compute_api:limits")


def test_keypairs_belong_to_their_user_as_in_nova() -> None:
    # given
    mine = {"user_id": "u1"}
    theirs = {"user_id": "u2"}

    # then
    assert allowed(READER, "os_compute_api:os-keypairs:create", mine)
    assert not allowed(MEMBER, "os_compute_api:os-keypairs:index", theirs)
    assert allowed(ADMIN, "os_compute_api:os-keypairs:delete", theirs)


def test_unknown_action_is_never_allowed() -> None:
    assert not allowed(ADMIN, "os_compute_api:no-such-thing")


def test_authorize_refuses_in_novas_words() -> None:
    with pytest.raises(PolicyNotAuthorized) as refused:
        authorize(MEMBER, ALL_TENANTS)

    assert refused.value.code == 403
    assert refused.value.message == f"Policy doesn't allow {ALL_TENANTS} to be performed."


def test_settings_override_a_rule(settings: SettingsWrapper) -> None:
    # given
    assert allowed(MEMBER, "os_compute_api:servers:create")

    # when
    settings.COMPUTECLOUD = {
        **getattr(settings, "COMPUTECLOUD", {}),
        "POLICY_OVERRIDES": {
            "os_compute_api:servers:create": "admin_api",
            ALL_TENANTS: "project_reader_or_admin",
        },
    }

    # then
    assert not allowed(MEMBER, "os_compute_api:servers:create")
    assert allowed(ADMIN, "os_compute_api:servers:create")
    assert allowed(READER, ALL_TENANTS)


def test_override_naming_an_unknown_rule_fails_the_system_check(
    settings: SettingsWrapper,
) -> None:
    # given
    settings.COMPUTECLOUD = {
        **getattr(settings, "COMPUTECLOUD", {}),
        "POLICY_OVERRIDES": {"os_compute_api:servers:create": "role:admin"},
    }

    # when
    errors = [m for m in run_checks() if m.id == "identity.E001"]

    # then
    assert len(errors) == 1
    assert "role:admin" in errors[0].msg
