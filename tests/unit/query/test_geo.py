"""geoLocation:[lon,lat,distance,unit]: great-circle distance from latitude/longitude."""

from __future__ import annotations

import pytest

from tests.unit.query.conftest import Dataset

# Great-circle distances from (30.27, -97.74): b01 0.43 km, b07 2.25 km, b09 23.28 km (14.47 mi),
# b02 27.14 km (16.86 mi), b12 118.87 km (73.86 mi), everything else > 1000 km; b06 has no position.


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("geoLocation:[-97.74,30.27,10,mi]", ["b01", "b07"]),
        ("geoLocation:[-97.74,30.27,15,mi]", ["b01", "b07", "b09"]),
        ("geoLocation:[-97.74,30.27,15,km]", ["b01", "b07"]),
        ("geoLocation:[-97.74,30.27,17,mi]", ["b01", "b02", "b07", "b09"]),
        ("geoLocation:[-97.74,30.27,100,MI]", ["b01", "b02", "b07", "b09", "b12"]),
        ("geoLocation:[-97.74, 30.27, 1, km]", ["b01"]),
        ("geoLocation:[-97.74,30.27,0,km]", []),
        ("geoLocation:[11.575,48.137,1,km]", ["b04"]),
        ("geoLocation:[151.2,-33.87,5,km]", ["b11"]),  # negative latitude
        ("geoLocation:[-97.74,30.27,10,mi] AND name:hilton", ["b01"]),
        (
            "NOT geoLocation:[-97.74,30.27,10,mi]",
            ["b02", "b03", "b04", "b05", "b06", "b08", "b09", "b10", "b11", "b12"],
        ),
        ("geoLocation:[-97.74,30.27,10,mi] OR geoLocation:[11.575,48.137,1,km]", ["b01", "b04", "b07"]),
    ],
)
def test_geo_distance(businesses: Dataset, query: str, expected: list[str]) -> None:
    assert businesses.ids(query) == expected
