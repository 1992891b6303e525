from apiharness import served  # noqa: F401 - the module-scoped recorded trading session
from books import books  # noqa: F401 - the module-scoped FCM member and margin account
