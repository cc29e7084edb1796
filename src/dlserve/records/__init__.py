"""Record datasets: declared schemas, views, Parquet snapshots and the DuckDB record store."""
