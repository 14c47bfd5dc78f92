"""Qt item models over store queries (rows fetched on demand, never all at once)."""
