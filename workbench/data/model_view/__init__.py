"""The model's view of a row: chat templates, tokenizers, assistant spans, how a version fits a max length."""
