"""One page per stage of the workflow; each is a Page (see base.py)."""
