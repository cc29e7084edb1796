"""The PyPI `datafiniti-sdk` package, pointed at a real `dlserve serve`, works unchanged."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import Any

import datafiniti
import pytest
from datafiniti import DatafinitiAPIError, DatafinitiBusinessSDK, DatafinitiProductSDK

from dlserve.demo import generate_records
from dlserve.records.schema import SCHEMAS
from tests.acceptance.conftest import RunningServer
from tests.support.query_eval import matching_ids


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


# --- every method of every class, found by introspection ------------------------------------------
#
# Each SDK class and its query builder are read from the installed package, so a method added in a
# later release is called here without anyone touching this file. Each call gets plausible values
# from ARGUMENTS (by parameter name), taken from one demo record of the type so that every query
# has matches; a parameter with no entry fails the test with a message saying what to add.

DEMO_COUNT, DEMO_SEED = 3000, 7  # what the demo_server fixture loads
LEAVE_DEFAULT = object()  # the parameter keeps its default (a view, a format, a download flag)


@dataclass(frozen=True)
class Sample:
    """One demo record of a type whose values make plausible, matching arguments."""

    data_type: str
    record: dict[str, Any]
    query: str  # a query with matches, for raw()/search()/count()/paginate()
    field: str  # a field for has_field(): the one the issue was about where there is one


def _first(data_type: str, predicate: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
    return next(r for r in demo_records(data_type) if predicate(r))


@cache
def demo_records(data_type: str) -> list[dict[str, Any]]:
    return list(generate_records(data_type, DEMO_COUNT, seed=DEMO_SEED))


@cache
def sample(data_type: str) -> Sample:
    located = ("postalCode", "address", "city", "latitude")
    if data_type == "businesses":
        record = _first(
            data_type, lambda r: all(k in r for k in (*located, "categories")) and '"' not in r["name"]
        )
        return Sample(data_type, record, f'city:"{record["city"]}"', "name")
    if data_type == "products":
        record = _first(data_type, lambda r: "categories" in r and '"' not in r["name"])
        return Sample(data_type, record, f'brand:"{record["brand"]}"', "brand")
    if data_type == "properties":
        # For sale, so that for_sale() (mostRecentStatus "For Sale" and its postal code) finds it.
        record = _first(
            data_type, lambda r: all(k in r for k in located) and r["mostRecentStatus"] == "For Sale"
        )
        return Sample(data_type, record, f'city:"{record["city"]}"', "mostRecentRentalStatus")
    record = _first(data_type, lambda r: all(k in r for k in ("postalCode", "city")))
    return Sample(data_type, record, f'city:"{record["city"]}"', "name")


ARGUMENTS: dict[str, object] = {
    "query": lambda s: s.query,
    "name": lambda s: s.record["name"],
    "brand": lambda s: s.record["brand"],
    "categories": lambda s: [s.record["categories"][0]],
    "country": "US",
    "province": lambda s: s.record["province"],
    "city": lambda s: s.record["city"],
    "postal_code": lambda s: s.record["postalCode"],
    "postal_codes": lambda s: [s.record["postalCode"], "00000"],
    "address": lambda s: s.record["address"],
    "property_types": lambda s: [s.record["propertyType"]],
    "longitude": lambda s: s.record["longitude"],
    "latitude": lambda s: s.record["latitude"],
    "distance": 10,
    "unit": "mi",
    "min_price": 10,
    "max_price": 500,
    "date_string": "2020-01-01",
    "field": lambda s: s.field,
    "num_records": 5,
    "page_size": 40,
    "max_records": 100,
    "format": LEAVE_DEFAULT,
    "view": LEAVE_DEFAULT,
    "download": LEAVE_DEFAULT,
}
# Where one parameter name means different things in different methods.
METHOD_ARGUMENTS: dict[tuple[str, str], object] = {
    ("most_recent_status", "statuses"): ["For Sale", "Pending"],
    ("most_recent_rental_status", "statuses"): ["For Rent"],
}


def arguments(method: Callable[..., Any], name: str, data_type: str) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for param in inspect.signature(method).parameters.values():
        if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
            continue
        value = METHOD_ARGUMENTS.get((name, param.name), ARGUMENTS.get(param.name, KeyError))
        if value is KeyError:
            pytest.fail(
                f"{name}() has a parameter '{param.name}' with no plausible value: add one to ARGUMENTS "
                f"(or METHOD_ARGUMENTS) in {__name__}"
            )
        if value is LEAVE_DEFAULT:
            assert param.default is not param.empty, f"{name}({param.name}) has no default to keep"
            continue
        values[param.name] = value(sample(data_type)) if callable(value) else value
    return values


def public_methods(cls: type) -> list[str]:
    return sorted(
        name for name, member in inspect.getmembers(cls) if not name.startswith("_") and callable(member)
    )


SDK_CLASSES = [cls for cls in map(datafiniti.__dict__.get, datafiniti.__all__) if hasattr(cls, "BASE_URL")]
BUILDERS = {cls: type(cls(api_key="introspection").query()) for cls in SDK_CLASSES}


def data_type_of(cls: type) -> str:
    return str(cls.BASE_URL).rstrip("/").rsplit("/", 1)[1]  # type: ignore[attr-defined]


def test_introspection_finds_the_four_classes_and_their_methods() -> None:
    assert sorted(map(data_type_of, SDK_CLASSES)) == ["businesses", "people", "products", "properties"]
    assert "most_recent_rental_status" in public_methods(BUILDERS[datafiniti.PropertyDataSDK])
    assert {"search", "count", "paginate", "query", "search_by_name"} <= set(
        public_methods(datafiniti.DatafinitiPeopleSDK)
    )


def connected(cls: type, server: RunningServer, queries: list[str]) -> Any:
    """An SDK object of ``cls`` pointed at the server; every query it sends is noted in ``queries``
    (the call itself goes through to the server unchanged)."""
    sdk = cls(api_key=server.token, max_retries=1)
    sdk.BASE_URL = f"{server.base_url}/v4/{data_type_of(cls)}"
    send = sdk._post

    def noting(endpoint: str, payload: dict[str, Any], params: dict[str, Any] | None = None) -> Any:
        queries.append(payload["query"])
        return send(endpoint, payload, params)

    sdk._post = noting
    return sdk


def expect_matches(data_type: str, query: str) -> list[str]:
    wanted = matching_ids(SCHEMAS[data_type], query, demo_records(data_type))
    assert wanted, f"the demo data has no match for {query!r}: choose other ARGUMENTS"
    return wanted


def check_search(data_type: str, query: str, result: dict[str, Any], num_records: int) -> None:
    wanted = expect_matches(data_type, query)
    assert result["num_found"] == len(wanted), query
    assert [r["id"] for r in result["records"]] == wanted[:num_records], query


@pytest.mark.parametrize(
    ("cls", "method"),
    [(cls, name) for cls in SDK_CLASSES for name in public_methods(BUILDERS[cls])],
    ids=lambda v: getattr(v, "__name__", v),
)
def test_every_query_builder_method_finds_the_demo_records(
    demo_server: RunningServer, cls: type, method: str
) -> None:
    data_type, queries = data_type_of(cls), list[str]()
    sdk = connected(cls, demo_server, queries)
    builder = sdk.query()
    if method == "build":  # the terminal call: alone it is the empty query, so build on a query
        builder.raw(sample(data_type).query)
    else:
        bound = getattr(builder, method)
        assert bound(**arguments(bound, method, data_type)) is builder  # chainable
    query = builder.build()
    check_search(data_type, query, sdk.search(query, num_records=5), 5)
    assert queries == [query]


@pytest.mark.parametrize(
    ("cls", "method"),
    [(cls, name) for cls in SDK_CLASSES for name in public_methods(cls)],
    ids=lambda v: getattr(v, "__name__", v),
)
def test_every_convenience_method_works_against_the_demo_data(
    demo_server: RunningServer, cls: type, method: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    data_type, queries = data_type_of(cls), list[str]()
    sdk = connected(cls, demo_server, queries)
    bound = getattr(sdk, method)
    if method == "from_env":  # a constructor: the key comes from the environment
        monkeypatch.setenv("DATAFINITI_API_KEY", demo_server.token)
        made = bound()
        assert isinstance(made, cls)
        assert getattr(made, "api_key") == demo_server.token  # noqa: B009 (the SDK is untyped)
        return
    kwargs = arguments(bound, method, data_type)
    result = bound(**kwargs)
    if inspect.isgenerator(result):  # paginate(): records as they come, page by page
        result = list(result)
    if isinstance(result, BUILDERS[cls]):  # query(): a fresh builder, nothing sent
        assert result.build() == ""
        assert queries == []
        return
    assert queries, f"{method}() sent no request"
    query = queries[0]
    if isinstance(result, int):  # count()
        assert result == len(expect_matches(data_type, query))
    elif isinstance(result, dict):  # search() and the search_by_*/geolocation/for_sale shortcuts
        check_search(data_type, query, result, kwargs.get("num_records", 10))
    else:  # paginate()
        assert isinstance(result, list)
        got = [r["id"] for r in result]
        assert got == expect_matches(data_type, query)[: kwargs["max_records"]]
        assert set(queries) == {query}
        assert len(queries) > 1  # several pages
