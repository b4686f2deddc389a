"""Errors the domain raises; views turn them into clear messages and status codes."""


class DomainError(Exception):
    """A request the rules refuse. `field` names the form field the message belongs next to."""

    status = 400

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class Invalid(DomainError):
    status = 400


class NotFound(DomainError):
    status = 404


class Forbidden(DomainError):
    status = 403


class Conflict(DomainError):
    status = 409
