"""Officer accounts: sign-in, tokens, administration, the audit trail and what each may see."""
