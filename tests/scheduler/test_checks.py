"""The system check refuses unknown filter and weigher names."""

from apps.scheduler.checks import check_scheduler_settings


def test_the_default_settings_pass_the_check():
    assert check_scheduler_settings() == []


def test_an_unknown_filter_or_weigher_is_an_error(settings):
    # given
    settings.COMPUTECLOUD = {
        "SCHEDULER": {
            "ENABLED_FILTERS": ["ComputeFilter", "ComputeFilterr"],
            "WEIGHERS": ["RAMWeigher", "no.such.Weigher"],
        }
    }
    # when
    errors = check_scheduler_settings()
    # then
    assert [e.id for e in errors] == ["scheduler.E001", "scheduler.E002"]
    assert "ComputeFilterr" in errors[0].msg


def test_a_third_party_filter_by_dotted_path_passes(settings):
    settings.COMPUTECLOUD = {
        "SCHEDULER": {"ENABLED_FILTERS": ["apps.scheduler.filters.same_host.SameHostFilter"]}
    }
    assert check_scheduler_settings() == []


def test_bad_numbers_are_errors(settings):
    settings.COMPUTECLOUD = {"SCHEDULER": {"HOST_SUBSET_SIZE": 0, "MAX_CANDIDATES": -1}}
    assert [e.id for e in check_scheduler_settings()] == ["scheduler.E004", "scheduler.E005"]
