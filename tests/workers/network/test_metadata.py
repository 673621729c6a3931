"""Guests reach 169.254.169.254:80 in their network's namespace; the proxy forwards with the
headers the metadata service trusts, and refuses addresses it does not know."""

from pathlib import Path

from tests.workers.network import kit


def test_the_proxy_forwards_a_guest_signed_and_refuses_an_unknown_address(
    lab_factory, metadata_service, udhcpc_script: Path
) -> None:
    # given a guest with its lease, and a stranger on the bridge with an address of no port
    lab, agent = lab_factory("t2m", metadata_url=metadata_service.url)
    net = kit.network("t2m", [kit.subnet("10.232.1.0/24", "10.232.1.1")], vni=2321)
    known = kit.port(net, "10.232.1.10", rules=kit.DEFAULT_GROUP)
    agent.apply({"networks": [net], "ports": [known], "routers": []})
    guest = lab.guest(known, net["bridge"], "a")
    guest.dhcp(udhcpc_script)
    stranger = lab.guest(kit.port(net, "10.232.1.77"), net["bridge"], "x")
    stranger.configure("10.232.1.77/24", "10.232.1.1")

    # when the guest asks for its metadata
    status, body = guest.http_get("http://169.254.169.254/openstack/latest/meta_data.json")

    # then the service got the request with the instance named and signed
    assert status == 200
    assert body == f"metadata for {known['device_id']}"
    [request] = metadata_service.requests
    headers = request["headers"]
    assert request["path"] == "/openstack/latest/meta_data.json"
    assert headers["X-Instance-ID"] == known["device_id"]
    assert headers["X-Tenant-ID"] == known["project_id"]
    assert headers["X-Instance-ID-Signature"] == metadata_service.signature(known["device_id"])
    assert headers["X-Forwarded-For"] == "10.232.1.10"

    # when an address the agent did not map asks, then 404 and nothing is forwarded
    status, _ = stranger.http_get("http://169.254.169.254/latest/meta-data/")
    assert status == 404
    assert len(metadata_service.requests) == 1


def test_a_port_plugged_later_is_known_to_the_running_proxy(
    lab_factory, metadata_service, udhcpc_script: Path
) -> None:
    # given a network whose proxy runs
    lab, agent = lab_factory("t2p", metadata_url=metadata_service.url)
    net = kit.network("t2p", [kit.subnet("10.232.2.0/24", "10.232.2.1")], vni=2322)
    agent.apply({"networks": [net], "ports": [], "routers": []})
    pid_file = agent.config.state_dir / agent.names.network_ns(net["id"]) / "metadata-proxy.pid"
    pid = pid_file.read_text()

    # when a port is plugged and its guest asks
    later = kit.port(net, "10.232.2.20")
    agent.plug_port(net, later)
    guest = lab.guest(later, net["bridge"], "a")
    guest.dhcp(udhcpc_script)
    status, _ = guest.http_get("http://169.254.169.254/latest/meta-data/")

    # then it is served by the same proxy
    assert status == 200
    assert metadata_service.requests[0]["headers"]["X-Instance-ID"] == later["device_id"]
    assert pid_file.read_text() == pid
