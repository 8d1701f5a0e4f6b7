"""File import: CSV, JSON Lines and Parquet rows mapped to Segment messages and ingested."""
