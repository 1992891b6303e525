"""fixgw benchmarks: `make bench` prints one JSON line per figure.

Every figure is measured against a baseline taken in the same run on the same
machine (bare QuickFIX doing the same job), and reported as
``{"name", "value", "unit", "baseline", "ratio"}``.
"""
