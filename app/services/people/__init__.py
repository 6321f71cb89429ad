"""People: persons, linking their records, search, retention."""
