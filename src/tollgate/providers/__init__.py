"""Client APIs, backends and translators: one module per vendor template (and, later, per translated pair).

Pure functions of bytes in, values out: no network, no store, no logging of bodies or secrets.
"""
