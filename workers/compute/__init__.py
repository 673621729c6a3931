"""The compute worker: one per hypervisor host, consuming queue ``compute.<host>``."""
