"""The Datasets page: versions, the virtual rows table, search, clean/split/export dialogs."""
