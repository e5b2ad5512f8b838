"""One router per resource group of the management API (mounted under /api/v1 by `control.app`)."""
