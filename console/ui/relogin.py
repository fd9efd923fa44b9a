"""L: the cluster's credential plugin on the plain terminal (a device code,
an MFA prompt), the screen suspended meanwhile, as Textual's suspend is meant
to be used: blocking, the terminal given away until it returns."""

from __future__ import annotations

from typing import Callable

from textual.app import App, SuspendNotSupported

from console.ports import ClusterSource
from console.ui.login import login_on_terminal


class Relogin:
    """`cluster_words()` says how the credentials stand; after a login,
    `redraw` draws every view and `diagnose` reads the cluster again."""

    def __init__(self, app: App, cluster: ClusterSource | None, *,
                 cluster_words: Callable[[], str], redraw: Callable[[], None],
                 diagnose: Callable[[], None]) -> None:
        self.app = app
        self.cluster = cluster
        self.cluster_words = cluster_words
        self.redraw = redraw
        self.diagnose = diagnose

    def login(self) -> None:
        cluster = self.cluster
        if cluster is None or not getattr(cluster, "needs_login", False):
            self.app.notify(f"nothing needs a login: cluster {self.cluster_words()}",
                            title="Log in")
            return
        try:
            with self.app.suspend():
                said = login_on_terminal(cluster, again=True)
        except SuspendNotSupported:
            self.app.notify("this terminal cannot be handed to the credential plugin: log in "
                            "with kubectl on another terminal, then press L again",
                            title="Log in", severity="error")
            return
        self.redraw()
        if said:
            self.app.notify(said, title="Log in failed", severity="error", timeout=15)
            return
        self.app.notify(f"logged in: cluster {self.cluster_words()}", title="Log in")
        self.diagnose()  # the pane's cluster reads, with the new token
