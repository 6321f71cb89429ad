"""Officer accounts: officers and their tokens, the audit trail, jurisdiction scoping."""
