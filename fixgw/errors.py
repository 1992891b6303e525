"""Every exception fixgw raises on purpose.

    FixgwError
    ├── ConfigError        a config file or option is wrong (names the option)
    ├── KeyFileError       a private/public key file cannot be used (names the file)
    ├── DecodeError        a FIX message cannot become a model (names type, tag, value); also a ValueError
    ├── OrderError         an order request is invalid; nothing was sent (names the field); also a ValueError
    ├── RequestError       a control request is malformed; nothing was done (control/schema.py); also a ValueError
    ├── RateLimited        the client-side rate limit refused a request (ratelimit.py; carries retry_after)
    ├── SessionError       a session misbehaved (names the session)
    │   └── LogonError     Kalshi refused or dropped a Logon (carries the reason)
    ├── ControlError       the control socket cannot be served or reached, or refused a command (control/)
    ├── StateDirBusy       another process holds the state directory's lock (lock.py)
    ├── StoreError         the recorder's store cannot be used as asked (recorder/store.py)
    └── SimulatorError     the local simulator cannot start or was misused

Classes defined next to the code that raises them are listed with their module. Two exceptions
stand outside the tree on purpose: ``api.rest.ApiError`` is an HTTP error answer in Kalshi's
REST shape, and ``cli.Failed`` is click's way to print a reason and exit 1.
``tests/test_error_tree.py`` fails when a FixgwError subclass is missing here.

Error messages name the thing that is wrong and, where there is one, the fix.
They never carry key material or RawData signatures.
"""


class FixgwError(Exception):
    """Base class: catch this to handle anything fixgw raises deliberately."""


class ConfigError(FixgwError):
    """A configuration value is invalid; the message names the option."""


class KeyFileError(FixgwError):
    """A key file is missing, malformed or unsafely readable."""


class DecodeError(FixgwError, ValueError):
    """A FIX field map does not form a valid model of its MsgType."""

    def __init__(self, msg_type: str, message: str, tag: int | None = None):
        where = f"35={msg_type}" + (f" tag {tag}" if tag is not None else "")
        super().__init__(f"{where}: {message}")
        self.msg_type, self.tag = msg_type, tag


class OrderError(FixgwError, ValueError):
    """A request failed local validation before anything was sent."""


class SessionError(FixgwError):
    """A session-level failure; ``session`` names it."""

    def __init__(self, session: str, message: str):
        super().__init__(f"{session}: {message}")
        self.session = session
        self.reason = message


class LogonError(SessionError):
    """Kalshi (or the simulator) refused a Logon: Logout text or Reject 373."""


class ControlError(FixgwError):
    """The control socket cannot be served or reached, or the server refused a command."""


class SimulatorError(FixgwError):
    """The local exchange simulator cannot do what was asked."""
