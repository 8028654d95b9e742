"""Connectors: one small async contract per chat platform.

Connectors turn a platform's stream into normalised events and carry out
actions. They know nothing of detection, alerts or the UI.
"""
