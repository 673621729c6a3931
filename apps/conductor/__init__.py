"""The conductor: orchestrates builds and actions, and writes instance state for hosts."""
