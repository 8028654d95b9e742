"""Operator actions: one pipeline (record, rate-limit, send, mark) under every
blacklist, warning, mention, scheduled post, welcome and clean-up."""
