"""The web console: server-rendered pages under /console, served by the control plane, over the management API."""
