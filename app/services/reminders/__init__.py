"""Reminders: the rules, the sweep that finds what is due, quota and delivery, escalations; notifications."""
