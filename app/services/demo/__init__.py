"""The demo data set (`flask demo-data`)."""
