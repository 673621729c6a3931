"""Quotas: per-project limits over the defaults, usage counted from the resources themselves,
and the checks every create path runs under the project lock (Nova's os-quota-sets, limits)."""
