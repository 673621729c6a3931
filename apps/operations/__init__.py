"""Operator commands that span several apps (`manage.py bootstrap`). No models."""
