"""The address registry: standard addresses, their import, door plates and address matching."""
