"""Remote consoles: short-lived tokens bound to an instance's VNC server, and the proxy."""
