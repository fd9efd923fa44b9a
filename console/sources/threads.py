"""Calls on daemon threads of their own, answered through a Future."""

from __future__ import annotations

import threading
from concurrent.futures import Future


def in_thread(call, name: str) -> Future:
    """`call()` in a daemon thread of its own: a server that hangs never
    keeps the console from quitting (a pool's threads are joined at exit),
    and one hung call holds no thread another needs."""
    future: Future = Future()
    future.set_running_or_notify_cancel()

    def run() -> None:
        try:
            result = call()
        except BaseException as error:  # noqa: BLE001 - handed to whoever waits on it
            future.set_exception(error)
        else:
            future.set_result(result)

    threading.Thread(target=run, name=name, daemon=True).start()
    return future
