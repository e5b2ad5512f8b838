"""The demo: mock vendors, one provider and one proxy per vendor, keys, and snippets that run."""
