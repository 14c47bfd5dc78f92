"""The Chat page: loading a model or adapter into a chat child, streaming replies."""
