"""The Train page: the run form and the max-length fit check."""
