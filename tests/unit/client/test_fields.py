"""``fields=[...]``: sent as ``view`` (a JSON array in bodies, comma-separated in a query string)."""

from __future__ import annotations

import json

import pytest

from dlserve.client import Client, Download
from tests.unit.client.fake_server import FakeServer, download_json


def test_search_paginate_and_download_send_fields_as_a_view_array(client: Client, server: FakeServer) -> None:
    client.search("businesses", "*", fields=["id", "reviews.rating"])
    assert json.loads(server.requests[-1].content)["view"] == ["id", "reviews.rating"]
    list(client.paginate("businesses", "*", page_size=50, fields=("name", "id")))
    assert json.loads(server.requests[-1].content)["view"] == ["name", "id"]
    client.create_download("businesses", "*", format="CSV", fields=["id", "city"])
    assert json.loads(server.requests[-1].content)["view"] == ["id", "city"]
    client.search("businesses", "*", fields="id, name")  # a comma string is split, not spelled out
    assert json.loads(server.requests[-1].content)["view"] == ["id", "name"]


def test_a_view_and_fields_together_are_refused_before_sending(client: Client, server: FakeServer) -> None:
    with pytest.raises(ValueError, match="not both"):
        client.create_download("businesses", "*", view="business_basic", fields=["id"])
    assert server.requests == []


def test_a_download_object_shows_a_field_list_as_a_list() -> None:
    body = download_json("5", "queued", 0, 10, view=["id", "name"])
    assert Download.from_json(body).view == ["id", "name"]
    assert Download.from_json({**body, "view": "business_basic"}).view == "business_basic"


def test_a_record_by_id_sends_fields_comma_separated(client: Client, server: FakeServer) -> None:
    client.get_record("businesses", "r1", fields=["id", "name"])
    assert server.requests[-1].url.params["view"] == "id,name"
