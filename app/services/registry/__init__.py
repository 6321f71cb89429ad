"""The address registry: standard addresses and their import, door plates, matching typed addresses."""
