"""The campaign numbers (DESIGN §6): every KPI, the colour table, call-ins, drill-downs, reports."""
