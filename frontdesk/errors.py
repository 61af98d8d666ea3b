"""The few exceptions frontdesk raises on purpose."""


class FrontdeskError(Exception):
    """Base class for frontdesk's own errors."""


class ConfigError(FrontdeskError):
    """A setting is missing or invalid; the message names the variable."""


class BotUnavailable(FrontdeskError):
    """Rasa could not be reached, timed out or answered an error."""


class StoreUnavailable(FrontdeskError):
    """Redis could not be reached."""


class BadInput(FrontdeskError):
    """Input from a client that frontdesk refuses, with a code for the client."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class DeskError(FrontdeskError):
    """An agent action that cannot be done (at capacity, already taken, …), with a code."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
