"""The errors every source raises (SourceError and its kinds), in a module
of its own so that the data modules the widgets import (console.diagnosis.gather)
can catch them without reaching any source. Callers branch on the type,
never on the message: that is written for the operator."""

from __future__ import annotations


class SourceError(Exception):
    """A source could not answer; str(error) says why, for the operator."""


class Unavailable(SourceError):
    """The source is not configured at all (e.g. no cluster): say why, do not retry."""


class Unreachable(SourceError):
    """No answer at all (connection refused or dropped, DNS, TLS, timeout):
    worth retrying at the next poll, unlike an answer we did not like; after
    a change was sent, whether it landed is unknown."""


class NotSent(Unreachable):
    """The connection was never made (refused, or its connect timed out):
    the request did not leave, so another server may be asked instead."""


class Unauthorized(SourceError):
    """The service answered 401: it applied nothing."""


class TimedOut(SourceError):
    """A request's total deadline passed before its whole answer came (a
    server that answers a byte at a time): the request may have reached the
    server and been acted on, so a change is read back, never sent again."""

    def __init__(self, message: str, seconds: float) -> None:
        super().__init__(message)
        self.seconds = seconds


def no_answer(error: BaseException) -> bool:
    """Whether `error` says the request got no answer (so a change sent may
    have landed all the same), by its type."""
    return isinstance(error, (Unreachable, TimedOut))


def causes(error: BaseException, limit: int = 10) -> list[BaseException]:
    """The error and what it was raised from, innermost last: a library
    wraps what the socket raised (ConnectionRefusedError) in its own types."""
    chain: list[BaseException] = []
    node: BaseException | None = error
    while node is not None and len(chain) < limit:
        chain.append(node)
        node = node.__cause__ or node.__context__
    return chain


def caused_by(error: BaseException, *kinds: type[BaseException]) -> bool:
    return any(isinstance(e, kinds) for e in causes(error))


def describe_error(error: BaseException) -> str:
    """A one-line reason for the operator. SourceErrors are written for them;
    anything else is a bug in a source, named by its type."""
    if isinstance(error, SourceError):
        return str(error) or type(error).__name__
    return f"{type(error).__name__}: {error}"


def first_line(value: object) -> str:
    """The first line of an error's text: messages from libraries and servers
    can run to pages."""
    text = str(value).strip()
    return text.splitlines()[0] if text else ""
