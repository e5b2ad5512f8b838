"""Provider adapters: one module per vendor template; pure functions of bytes in, values out."""
