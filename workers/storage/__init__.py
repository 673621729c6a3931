"""The host's storage agent: volumes and their snapshots in this host's pool (file or LVM)."""
