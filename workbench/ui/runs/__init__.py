"""The Runs page: the runs table, details, the live loss plot."""
