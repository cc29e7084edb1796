"""The PyPI `datafiniti-sdk` package, pointed at a real `dlserve serve`, works unchanged."""

from __future__ import annotations

import pytest
from datafiniti import DatafinitiAPIError, DatafinitiBusinessSDK, DatafinitiProductSDK

from dlserve.demo import generate_records
from tests.acceptance.conftest import RunningServer


def business_sdk(server: RunningServer) -> DatafinitiBusinessSDK:
    sdk = DatafinitiBusinessSDK(api_key=server.token, max_retries=1)
    sdk.BASE_URL = f"{server.base_url}/v4/businesses"
    return sdk


def expected_ids(data_type: str, predicate: object) -> list[str]:
    """Ids the demo data (regenerated here, same seed) should match, in load order."""
    return [str(r["id"]) for r in generate_records(data_type, 3000, seed=7) if predicate(r)]  # type: ignore[operator]


def test_search_returns_matching_records(demo_server: RunningServer) -> None:
    sdk = business_sdk(demo_server)
    wanted = expected_ids("businesses", lambda r: str(r.get("province", "")).upper() == "TX")
    result = sdk.search("province:TX", num_records=5)
    assert result["num_found"] == len(wanted)
    assert result["total_cost"] == len(result["records"]) == min(5, len(wanted))
    assert [r["id"] for r in result["records"]] == wanted[:5]


def test_count_is_free_and_exact(demo_server: RunningServer) -> None:
    sdk = business_sdk(demo_server)
    wanted = expected_ids("businesses", lambda r: "Hotels" in (r.get("categories") or []))
    assert sdk.count("categories:hotels") == len(wanted) > 0


def test_paginate_walks_every_match_once_in_order(demo_server: RunningServer) -> None:
    sdk = business_sdk(demo_server)
    wanted = expected_ids("businesses", lambda r: str(r.get("province", "")).upper() == "CA")
    got = [r["id"] for r in sdk.paginate("province:CA", page_size=37)]
    assert got == wanted
    assert len(set(got)) == len(got) > 37


def test_products_sdk_and_errors(demo_server: RunningServer) -> None:
    sdk = DatafinitiProductSDK(api_key=demo_server.token, max_retries=1)
    sdk.BASE_URL = f"{demo_server.base_url}/v4/products"
    assert sdk.count("*") == 3000
    with pytest.raises(DatafinitiAPIError) as caught:
        sdk.search("nosuchfield:x")
    assert caught.value.status_code == 400
    bad = DatafinitiBusinessSDK(api_key="dls_not_a_token", max_retries=1)
    bad.BASE_URL = f"{demo_server.base_url}/v4/businesses"
    with pytest.raises(DatafinitiAPIError) as unauthorized:
        bad.search("*")
    assert unauthorized.value.status_code == 401
