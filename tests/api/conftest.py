from apiharness import served  # noqa: F401 - the module-scoped recorded trading session
