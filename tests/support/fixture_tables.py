"""Small snapshot tables in an in-memory DuckDB, built with the loader's own reading and typing.

``snapshot_connection(schema, records)`` gives a connection with table ``t`` in the snapshot
layout (typed columns, token columns, ``_seq`` in list order from 0), typed exactly as
``dlserve load`` types records (offset timestamps converted to UTC, for one). ``BUSINESS_RECORDS`` and
``PRODUCT_RECORDS`` are a hand-written dataset whose quirks (missing fields, empty strings and
lists, negative longitudes, nested lists, unicode, quotes) the query tests rely on: change a record
and the expected ids in ``tests/unit/query`` change with it.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import duckdb

from dlserve.records import layout
from dlserve.records.loader import loaded_rows_sql, read_json_lines
from dlserve.records.schema import DataTypeSchema

Record = dict[str, Any]


def create_snapshot_table(
    connection: duckdb.DuckDBPyConnection,
    schema: DataTypeSchema,
    records: Sequence[Record],
    table: str = "t",
) -> None:
    with tempfile.TemporaryDirectory(prefix="dlserve-fixture-") as scratch:
        source = Path(scratch) / "records.jsonl"
        source.write_text("".join(json.dumps(record) + "\n" for record in records), encoding="utf-8")
        read_json_lines(connection, schema, [source])
    connection.execute(
        f"CREATE TABLE {layout.quote_ident(table)} AS "
        + layout.snapshot_select_sql(schema, loaded_rows_sql(schema, first_seq=0))
    )
    connection.execute("DROP TABLE raw")
    connection.execute("DROP TABLE typed")


def snapshot_connection(schema: DataTypeSchema, records: Sequence[Record]) -> duckdb.DuckDBPyConnection:
    connection = duckdb.connect(":memory:")
    create_snapshot_table(connection, schema, records)
    return connection


BUSINESS_RECORDS: list[Record] = [
    {
        "id": "b01",
        "name": "Hilton Garden Inn Austin Downtown",
        "address": "500 N Interstate 35",
        "city": "Austin",
        "province": "TX",
        "postalCode": "78701",
        "country": "US",
        "latitude": 30.2672,
        "longitude": -97.7431,
        "categories": ["Hotels", "Hotels & Motels"],
        "primaryCategories": ["Accommodation & Food Services"],
        "websites": ["http://hilton.com", "https://www.hilton.com/austin"],
        "phones": ["5124808181"],
        "dateAdded": "2017-01-01T08:00:00Z",
        "dateUpdated": "2018-03-05T12:00:00Z",
        "reviews": [
            {
                "date": "2017-05-01T00:00:00Z",
                "rating": 5,
                "text": "Great location, friendly staff",
                "title": "Great stay",
                "username": "alice",
            },
            {
                "date": "2017-06-01T10:00:00Z",
                "rating": 2,
                "text": "Noisy at night. Bad parking",
                "title": "Meh",
            },
        ],
        "hours": [{"day": "Monday", "hour": "24 hours"}],
        "features": [{"key": "Wi-Fi", "value": ["Free WiFi", "Paid WiFi in rooms"]}],
    },
    {
        "id": "b02",
        "name": "Hampton Inn & Suites",
        "city": "Round Rock",
        "province": "TX",
        "country": "US",
        "latitude": 30.5083,
        "longitude": -97.6789,
        "categories": ["Hotels"],
        "websites": [],
        "dateAdded": "2017-01-31T23:30:00Z",
        "dateUpdated": "2017-02-01T00:00:00Z",
        "reviews": [{"rating": 4, "text": "Clean rooms, bad breakfast", "username": "Carol"}],
    },
    {
        "id": "b03",
        "name": "Hilton Chicago",
        "city": "Chicago",
        "province": "IL",
        "country": "US",
        "latitude": 41.8724,
        "longitude": -87.6245,
        "dateAdded": "2016-12-31T23:59:59Z",
        "reviews": [{"rating": 3, "text": "Great view"}, {"rating": 5, "text": "bad service"}],
    },
    {
        "id": "b04",
        "name": "Café Müller",
        "city": "München",
        "country": "DE",
        "latitude": 48.137,
        "longitude": 11.575,
        "categories": ["Cafés", "Bäckerei"],
        "dateAdded": "2017-06-15",
    },
    {
        "id": "b05",
        "name": "",
        "city": "",
        "country": "GB",
        "latitude": 51.5074,
        "longitude": -0.1278,
        "categories": [],
        "websites": [""],
        "reviews": [],
    },
    {
        "id": "b06",
        "name": "Joe's Diner",
        "city": "austin",
        "country": "us",
        "phones": ["512-555-0100"],
        "dateAdded": "2017-01-02T00:00:00Z",
    },
    {
        "id": "b07",
        "name": "The Austin Motel",
        "city": "Austin",
        "province": "TX",
        "latitude": 30.2515,
        "longitude": -97.7494,
        "categories": ["Motels"],
        "dateAdded": "2017-01-15T12:00:00Z",
        "reviews": [{"rating": 4.5, "text": "Retro vibes", "username": "alice"}],
        "features": [{"key": "Parking", "value": ["Free"]}],
    },
    {
        "id": "b08",
        "name": "Robert'); DROP TABLE t;--",
        "city": "O'Fallon",
        "province": "MO",
        "latitude": 38.8106,
        "longitude": -90.6968,
        "dateAdded": "2018-01-01T00:00:00Z",
        "websites": ["x') OR 1=1 --", 'back\\slash"quote'],
    },
    {
        "id": "b09",
        "name": "Hilton Garden",
        "city": "Austin",
        "latitude": 30.3,
        "longitude": -97.5,
        "categories": ["Hotels"],
        "dateAdded": "2017-01-01T00:00:00Z",
        "reviews": [{"rating": 5, "text": "great great"}],
    },
    {
        "id": "b10",
        "name": "Garden Hilton",
        "city": "Houston",
        "latitude": 29.7604,
        "longitude": -95.3698,
        "dateAdded": "2017-02-01T00:00:00Z",
    },
    {
        "id": "b11",
        "name": "Sydney Harbour Hotel",
        "country": "AU",
        "latitude": -33.8688,
        "longitude": 151.2093,
        "dateAdded": "2017-03-10T10:00:00Z",
        "reviews": [{"rating": 1, "text": "terrible", "date": "2017-03-11T00:00:00Z"}],
    },
    {
        "id": "b12",
        "name": "Hilton-Garden Express",
        "city": "San Antonio",
        "latitude": 29.4241,
        "longitude": -98.4936,
        "categories": ["Hotels & Motels"],
    },
]

PRODUCT_RECORDS: list[Record] = [
    {
        "id": "p01",
        "name": "Sony WH-1000XM4 Headphones",
        "brand": "Sony",
        "manufacturer": "Sony Corp",
        "categories": ["Electronics", "Headphones"],
        "upc": ["027242919433"],
        "dateAdded": "2020-01-01T00:00:00Z",
        "prices": [
            {
                "amountMin": 278.0,
                "amountMax": 349.99,
                "currency": "USD",
                "isSale": True,
                "merchant": "Best Buy",
                "condition": "new",
                "dateSeen": "2020-02-01T00:00:00Z",
            },
            {"amountMin": 5.5, "amountMax": 5.5, "currency": "USD", "isSale": False, "merchant": "eBay"},
        ],
        "reviews": [{"rating": 5, "text": "Amazing noise cancelling", "username": "zed"}],
    },
    {
        "id": "p02",
        "name": "Sony Bravia TV",
        "brand": "SONY",
        "prices": [
            {
                "amountMin": 999,
                "amountMax": 1200,
                "currency": "USD",
                "isSale": False,
                "merchant": "Amazon.com",
            }
        ],
        "reviews": [],
        "ean": [],
        "dateAdded": "2019-06-30T12:00:00Z",
    },
    {
        "id": "p03",
        "name": "Bose QuietComfort",
        "brand": "Bose",
        "categories": ["Headphones"],
        "prices": [{"amountMin": 10.0, "amountMax": 10.0, "currency": "EUR", "isSale": True}],
        "dateAdded": "2019-12-31T23:00:00Z",
    },
    {"id": "p04", "name": "Generic Cable", "brand": "", "prices": [], "categories": []},
    {
        "id": "p05",
        "name": "Ünïcödé Gadget",
        "brand": "Ünïcödé",
        "prices": [{"amountMin": -5, "amountMax": 0, "currency": "USD"}],
        "reviews": [{"rating": 3, "text": "ok"}],
    },
    {"id": "p06"},
    {
        "id": "p07",
        "name": "Apple AirPods Pro",
        "brand": "Apple",
        "upc": ["190199246850", "190199246851"],
        "prices": [{"amountMin": 199.0, "isSale": None, "merchant": "Walmart"}],
    },
]
