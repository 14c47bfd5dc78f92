"""The Models page: base models, built-in demo models, local folders."""
