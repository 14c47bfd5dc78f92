"""What the model sees: statistics, token histograms, the row through the chat template."""
