"""The host network agent: makes a compute host's kernel match its `HostNetworksPayload`.

Bridges, vxlan devices, a namespace per network (gateway addresses, dnsmasq, the metadata
proxy), a namespace per router, and the nftables rules of the ports' security groups
(docs/network-agent.md). Plain Python driving iproute2, nftables and dnsmasq: nothing of
Django, Celery or the apps; of computecloud only the wire format (import-linter contract "the
network agent speaks the kernel").
"""
