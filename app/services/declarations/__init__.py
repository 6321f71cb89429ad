"""Declarations: declare, validate (one and in batches), review, ownership and claims, corrections."""
