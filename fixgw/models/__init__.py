"""Typed messages: ``fix`` (FIX application messages) and ``rest`` (Kalshi REST wire shapes)."""
