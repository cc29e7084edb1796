"""Searching the loaded records: previews, counts, pages and single records, charged in credits."""
