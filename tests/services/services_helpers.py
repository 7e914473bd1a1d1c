"""Helpers shared by the service tests (a module with a unique name, not conftest)."""

from __future__ import annotations

from typing import Any

import httpx

from launchpad.services.auth import ScryptCost

CHEAP = ScryptCost(n=2**4, r=1, p=1)
"""A password hash that costs microseconds: the tests check behaviour, not hash strength."""

DOWN_REDIS = "redis://127.0.0.1:1/0"
"""A Redis URL where nothing listens (connection refused at once)."""

PASSWORD = "correct horse"


def register(client: httpx.Client, email: str = "ada@example.com", **headers: str) -> Any:
    return client.post(
        "/auth/register",
        json={"email": email, "password": PASSWORD, "name": "Ada"},
        headers=headers,
    )


def login(client: httpx.Client, email: str = "ada@example.com") -> str:
    response = client.post("/auth/login", json={"email": email, "password": PASSWORD})
    assert response.status_code == 200, response.text
    token: str = response.json()["token"]
    return token
