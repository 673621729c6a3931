"""Code that runs on hypervisor hosts. Never imports the control plane (apps) or Django."""
