"""The hypervisor layer of a compute worker: the ComputeDriver contract and its drivers.

Plain Python and libvirt: no Django, Celery or computecloud imports, except the plain wire
format `computecloud.wire` (import-linter contracts in pyproject.toml). See driver.py for the
contract.
"""
