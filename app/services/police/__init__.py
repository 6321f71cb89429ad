"""Police field work: watch list, control tasks, spot checks, alerts."""
