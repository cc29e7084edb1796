"""``Client`` (``_sync.py``) is generated from ``AsyncClient`` (``_async.py``): never edited by hand.

When this fails, regenerate: ``make sdk-sync`` (``python -m dlserve.client._generate_sync``).
"""

from __future__ import annotations

import inspect

from dlserve.client import AsyncClient, Client
from dlserve.client._generate_sync import SOURCE, TARGET, generated


def test_the_sync_client_is_what_the_generator_writes() -> None:
    assert TARGET.read_text("utf-8") == generated(), "client/_sync.py is out of date: run make sdk-sync"


def test_the_two_clients_have_the_same_methods_and_signatures() -> None:
    def public(cls: type) -> dict[str, list[str]]:
        return {
            name: list(inspect.signature(member).parameters)
            for name, member in inspect.getmembers(cls, callable)
            if not name.startswith("_") or name in ("__init__",)
        }

    sync_methods, async_methods = public(Client), public(AsyncClient)
    async_methods["close"] = async_methods.pop("aclose")
    assert sync_methods == async_methods


def test_the_generated_file_says_where_it_comes_from() -> None:
    assert TARGET.read_text("utf-8").startswith("# Generated from _async.py by `make sdk-sync`")
    assert "await " not in TARGET.read_text("utf-8")
    assert SOURCE.read_text("utf-8").count("await ") > 20
