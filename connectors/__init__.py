"""Connectors: one small async contract per chat platform.

Connectors turn a platform's stream into normalised events and carry out
actions. They know nothing of detection, alerts or the UI.
"""

GROUPWATCH_PACKAGE = True  # groupwatch_main checks it: another project's "connectors" may shadow this one
