"""Usage metering: token counts per request, written in batches off the request path."""
