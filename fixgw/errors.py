"""Every exception fixgw raises on purpose.

    FixgwError
    ├── ConfigError        a config file or option is wrong (names the option)
    ├── KeyError_          a private/public key cannot be used (names the file)
    ├── SessionError       a session misbehaved (names the session)
    │   └── LogonError     Kalshi refused or dropped a Logon (carries the reason)
    └── SimulatorError     the local simulator cannot start or was misused

Error messages name the thing that is wrong and, where there is one, the fix.
They never carry key material or RawData signatures.
"""


class FixgwError(Exception):
    """Base class: catch this to handle anything fixgw raises deliberately."""


class ConfigError(FixgwError):
    """A configuration value is invalid; the message names the option."""


class KeyFileError(FixgwError):
    """A key file is missing, malformed or unsafely readable."""


class SessionError(FixgwError):
    """A session-level failure; ``session`` names it."""

    def __init__(self, session: str, message: str):
        super().__init__(f"{session}: {message}")
        self.session = session
        self.reason = message


class LogonError(SessionError):
    """Kalshi (or the simulator) refused a Logon: Logout text or Reject 373."""


class SimulatorError(FixgwError):
    """The local exchange simulator cannot do what was asked."""
