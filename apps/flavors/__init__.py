"""Flavors: the sizes an instance can have, their extra specs and project access."""
