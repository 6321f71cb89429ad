"""Page tests reuse the console's two-station world."""
from tests.console.conftest import as_officer, world  # noqa: F401
