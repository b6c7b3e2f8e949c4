"""Shared fixtures: a websock server served by `run()` on a background thread, plus a
helper that runs a coroutine client (the real `websockets` library) against it."""

from __future__ import annotations

import asyncio
import threading
from typing import Any, Awaitable, Callable, Iterator

import pytest

import websock


class Running:
    """A started server whose `run()` loop runs on its own thread."""

    def __init__(self, server: websock.Server) -> None:
        self.server = server
        server.start()
        self.url = f"ws://127.0.0.1:{server.port}"
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        try:
            self.server.run()
        except BaseException as e:  # surfaced by stop()
            self.error = e

    def stop(self) -> None:
        self.server.shutdown(2.0)
        self.thread.join(10)
        assert not self.thread.is_alive(), "run() did not return after shutdown"
        if self.error is not None:
            raise self.error


@pytest.fixture
def serve_thread() -> Iterator[Callable[..., Running]]:
    """serve_thread(server) -> Running; every server is shut down after the test."""
    started: list[Running] = []

    def start(server: websock.Server) -> Running:
        r = Running(server)
        started.append(r)
        return r

    yield start
    for r in started:
        r.stop()


def run(coro: Awaitable[Any], timeout: float = 15.0) -> Any:
    """Run a client coroutine with a time limit (a hang fails the test)."""

    async def limited() -> Any:
        return await asyncio.wait_for(coro, timeout)

    return asyncio.run(limited())


def wait_until(pred: Callable[[], bool], timeout: float = 5.0) -> None:
    import time

    end = time.monotonic() + timeout
    while not pred():
        if time.monotonic() > end:
            raise AssertionError("condition not reached in time")
        time.sleep(0.01)
