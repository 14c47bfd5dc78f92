"""Record formats: detecting OpenAI messages, ShareGPT, Alpaca, prompt/completion and plain text, column mappings, normalising to chat messages, validation and problem reports."""
