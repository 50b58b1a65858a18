"""Assertions on API answers shared by the test modules."""

from __future__ import annotations

from typing import Any

from httpx import Response


def refused(response: Response, status: int, field: str | None, *words: str) -> dict[str, Any]:
    """The request was refused with ``status``, naming ``field``, in a sentence with ``words``."""
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    if field is not None:
        assert body["field"] == field
    for word in words:
        assert word in body["detail"], body["detail"]
    return body
