"""Visitors that cost the server what browsers cost it, and this machine next to nothing.

A class's browsers run on thirty laptops; a benchmark's visitors run on the server's own cores. Thirty
``gradio_client`` threads took 16-19 CPU-seconds per burst of 30 generations here, more than the server's
10-12, and polled every 50 ms: they measured themselves as much as the app. These visitors speak the
protocol the page speaks (``queue/join`` with the event's inputs, then the session's ``queue/data`` stream of
server-sent events, outputs sent as diffs) from one asyncio loop: under 1 CPU-second for the same burst.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections.abc import Callable
from typing import Any

import httpx


async def endpoints(http: httpx.AsyncClient, url: str) -> tuple[str, dict[str, int]]:
    """(the API prefix, each named event's index), read from the app's config as the page reads it."""
    config = (await http.get(url + "config")).json()
    prefix = config.get("api_prefix", "").strip("/") + "/"
    return prefix, {d["api_name"]: i for i, d in enumerate(config["dependencies"]) if d.get("api_name")}


def new_session() -> str:
    return uuid.uuid4().hex[:11]


def apply_diff(value: Any, diff: list) -> Any:
    """A streamed output's next value: Gradio sends each update as edits of the one before (replace, append,
    add, delete; an edit this does not know is an error, not a silently stale value)."""
    for action, path, edit in diff:
        if not path:
            if action not in ("replace", "append"):
                raise ValueError(f"unknown edit of a whole output: {action!r}")
            value = edit if action == "replace" else value + edit
            continue
        target = value
        for key in path[:-1]:
            target = target[key]
        key = path[-1]
        if action == "replace":
            target[key] = edit
        elif action == "append":
            target[key] += edit
        elif action == "add" and isinstance(target, list):
            target.insert(int(key), edit)
        elif action == "add":
            target[key] = edit
        elif action == "delete":
            del target[key]
        else:
            raise ValueError(f"unknown edit: {action!r}")
    return value


async def call(
    http: httpx.AsyncClient,
    url: str,
    prefix: str,
    fn_index: int,
    data: list,
    session: str,
    on_update: Callable[[list], None] | None = None,
) -> list:
    """One event, as the page sends it: its final outputs; ``on_update`` sees each streamed update."""
    joined = await http.post(
        url + prefix + "queue/join",
        json={"data": data, "fn_index": fn_index, "session_hash": session, "event_data": None, "trigger_id": None},
    )
    joined.raise_for_status()
    event_id, outputs, buffer = joined.json()["event_id"], None, b""
    async with (
        http.stream("GET", url + prefix + "queue/data", params={"session_hash": session}) as stream,
        contextlib.aclosing(stream.aiter_bytes()) as chunks,
    ):
        async for chunk in chunks:
            buffer += chunk
            while b"\n\n" in buffer:
                line, buffer = buffer.split(b"\n\n", 1)
                if not line.startswith(b"data:"):
                    continue
                message = json.loads(line[5:])
                if message.get("event_id") != event_id:
                    continue  # a heartbeat, or another event of this session
                if message["msg"] == "process_generating":
                    update = message["output"]["data"]
                    outputs = list(update) if outputs is None else [apply_diff(o, d) for o, d in zip(outputs, update)]
                    if on_update is not None:
                        on_update(outputs)
                elif message["msg"] == "process_completed":
                    if not message.get("success", True):
                        raise RuntimeError(f"the server refused the call: {message.get('output')}")
                    return message["output"]["data"]
    raise RuntimeError("the stream closed before the event completed")


class Visitor:
    """One visitor's session for plain (not async) code, such as a benchmark's loop: ``visitor("generate",
    *inputs)`` sends the event as the page does and returns its outputs. Timings taken around it are the
    server's and the network's, not a client's polling (``gradio_client`` looks for news every 50 ms)."""

    def __init__(self, url: str):
        self.url, self.session = url, new_session()
        self._loop = asyncio.new_event_loop()
        self._http = httpx.AsyncClient(timeout=600)
        self.prefix, self.fns = self._loop.run_until_complete(endpoints(self._http, url))

    def __call__(self, api_name: str, *inputs: Any, on_update: Callable[[list], None] | None = None) -> list:
        try:
            return self._loop.run_until_complete(
                call(self._http, self.url, self.prefix, self.fns[api_name], list(inputs), self.session, on_update)
            )
        finally:
            self._loop.run_until_complete(asyncio.sleep(0))  # the finished stream's generators close here

    def close(self) -> None:
        self._loop.run_until_complete(self._http.aclose())
        self._loop.run_until_complete(self._loop.shutdown_asyncgens())
        self._loop.close()


class PageClient:
    """``gradio_client.Client.predict`` over a ``Visitor``, for scripts written against gradio_client that should
    cost the server what a page costs it: no description of the API fetched on arriving, no file in an answer
    downloaded (a page shows a checkpoint's link; gradio_client fetches every file of every answer). No uploads."""

    def __init__(self, url: str):
        self.visitor = Visitor(url)

    def predict(self, *inputs: Any, api_name: str) -> Any:
        outputs = self.visitor(api_name.lstrip("/"), *inputs)
        return outputs[0] if len(outputs) == 1 else tuple(outputs)

    def close(self) -> None:
        self.visitor.close()
