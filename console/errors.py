"""The one error every source raises, in a module of its own so that the
data modules the widgets import (console.diagnosis) can catch it without
reaching any source."""

from __future__ import annotations


class SourceError(Exception):
    """A source could not answer; str(error) says why, for the operator."""


class Unavailable(SourceError):
    """The source is not configured at all (e.g. no cluster): say why, do not retry."""


class TimedOut(SourceError):
    """A request's total deadline passed before its whole answer came (a
    server that answers a byte at a time): the request may have reached the
    server and been acted on, so a change is read back, never sent again."""

    def __init__(self, message: str, seconds: float) -> None:
        super().__init__(message)
        self.seconds = seconds


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
