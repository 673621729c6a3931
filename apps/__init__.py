"""computecloud control-plane Django apps."""
