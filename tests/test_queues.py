"""What task messages show of their arguments (`computecloud.queues.describe_task`)."""

from computecloud.queues import describe_task


def test_a_build_message_shows_the_server_and_request_but_no_user_data_or_urls() -> None:
    # given: a build as the conductor sends it
    kwargs = {
        "payload": {
            "instance": {"uuid": "a1", "user_data": "c2VjcmV0", "public_keys": {"k": "ssh-rsa"}},
            "image": {"url": "http://api/image/v2/images/i/file?sig=s3cr3t"},
            "request_id": "req-1",
            "alternates": [],
        }
    }
    # when
    shown = describe_task(kwargs)
    # then
    assert shown == "{'server_uuid': 'a1', 'request_id': 'req-1'}"


def test_a_report_shows_its_identifiers_only() -> None:
    kwargs = {
        "host": "h1",
        "server_uuid": "a1",
        "request_id": "req-1",
        "power_states": {f"s{i}": 1 for i in range(1000)},
    }

    assert describe_task(kwargs) == "{'server_uuid': 'a1', 'host': 'h1', 'request_id': 'req-1'}"
