"""Parquet storage of dataset versions: schema, row reads, message batches."""
