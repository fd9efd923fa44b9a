"""Logging in on the plain terminal: before the screen takes over, and
while L has it suspended (console.ui.app)."""

from __future__ import annotations

import sys

from console.errors import SourceError


def login_on_terminal(cluster, *, again: bool = False) -> str:
    """Run the context's exec plugin on the plain terminal, as kubectl does,
    before the screen takes over (or, `again`, while L has it suspended), so
    a plugin that prompts (a device code, an MFA code) prompts there. Returns
    "" or the failure in plain words, also said on stderr: the console runs
    on and its cluster features say why they are unavailable."""
    login = getattr(cluster, "login", None)
    if login is None:
        return ""
    state = cluster.credential_state()
    if state.source.startswith("exec") and sys.stdin.isatty():
        print(f'cbconsole: logging in to context "{cluster.label}" with {state.source} '
              "(Ctrl-C cancels)", file=sys.stderr, flush=True)
    try:
        login()
    except SourceError as error:
        after = ("the console comes back without them" if again else
                 "the console starts without them")
        if getattr(cluster, "needs_login", False):
            after += "; press L in the console to log in again"
        said = f"{error}: {after}"
        # A fresh line: a prompt (and a ^C) may have left the cursor after it.
        lead = "\n" if sys.stdin.isatty() else ""
        print(f"{lead}cbconsole: {said}", file=sys.stderr, flush=True)
        return said
    return ""
