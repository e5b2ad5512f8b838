"""Policies: one module per policy type, each a typed `Params` model plus `build(params, env)`.

`base` is the phase interface every compiled policy implements and the per-route `PolicyChain` the
relay runs; `registry` lists the built-in policies and their parameter schemas; `counters` holds
the limit counters (in-process or Redis). Policies never touch the store and never call back into
the relay.
"""
