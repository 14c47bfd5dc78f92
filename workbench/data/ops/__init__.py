"""Operations on dataset versions: cleaning (dedup, filters, PII), splits, export, statistics."""
