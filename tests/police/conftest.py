"""Police field-work fixtures: the console's two-station world, and officer API helpers."""
from tests.console.conftest import World, as_officer, world  # noqa: F401
