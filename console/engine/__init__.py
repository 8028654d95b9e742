"""The engine: events in, stats and alerts out. Knows nothing of Textual."""
