"""Pure rules: no I/O, no AWS, no clocks (time is always passed in)."""
