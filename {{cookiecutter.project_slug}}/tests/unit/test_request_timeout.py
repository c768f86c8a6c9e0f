"""The request deadline: a handler that never answers becomes a 503, a quick one is untouched."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from {{ cookiecutter.package_name }}.request_timeout import (
    RequestTimeoutMiddleware,
    within,
)

pytestmark = pytest.mark.anyio

cleaned_up: list[str] = []


async def hangs(_: Request) -> JSONResponse:
    try:
        await asyncio.Event().wait()  # a query on a blackholed connection
    finally:
        cleaned_up.append("hangs")
    raise AssertionError("unreachable")


async def quick(_: Request) -> JSONResponse:
    return JSONResponse({"ok": True})


def _client(timeout_seconds: float) -> httpx.AsyncClient:
    app = Starlette(routes=[Route("/hangs", hangs), Route("/quick", quick)])
    wrapped = RequestTimeoutMiddleware(app, timeout_seconds=timeout_seconds)
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=wrapped), base_url="http://t")


async def test_a_request_past_the_deadline_is_a_503_and_its_handler_is_cancelled() -> None:
    cleaned_up.clear()  # a test may run twice in one process (reruns, mutation testing)
    async with _client(0.05) as client:
        response = await client.get("/hangs")
        await asyncio.sleep(0)  # let the abandoned handler run its cleanup

    assert response.status_code == 503
    assert response.headers["Retry-After"] == "1"
    assert response.json() == {"detail": "request timed out, retry shortly"}
    assert cleaned_up == ["hangs"]


async def test_a_request_within_the_deadline_is_passed_through() -> None:
    async with _client(5.0) as client:
        response = await client.get("/quick")

    assert (response.status_code, response.json()) == (200, {"ok": True})


async def test_within_runs_the_work_or_raises_timeout_without_waiting_for_cleanup() -> None:
    async def slow_cleanup() -> None:
        try:
            await asyncio.Event().wait()
        finally:
            await asyncio.sleep(3600)  # a cancelled query's cleanup on a dead network

    ran: list[str] = []

    async def work() -> None:
        ran.append("done")

    async def broken() -> None:
        raise ValueError("the work's own error")

    await within(work(), seconds=1.0)
    assert ran == ["done"]
    with pytest.raises(ValueError, match="the work's own error"):
        await within(broken(), seconds=1.0)
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(within(slow_cleanup(), seconds=0.05), timeout=5.0)
