"""The Evaluate page: eval suites, models run on them side by side, per-item outputs, ratings."""
