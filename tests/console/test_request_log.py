"""The console's request log lines name the officer by id and never carry what was searched."""
from __future__ import annotations

import json
import logging

from app.logs import JsonFormatter


def test_console_search_is_logged_with_the_officer_id_and_without_the_document_number(
        as_officer, world, caplog):
    caplog.set_level(logging.INFO, logger="anju.request")
    resp = as_officer.get("/console/search", query_string={"q": "11010519491231002X"})
    assert resp.status_code == 200
    formatter = JsonFormatter()
    lines = [formatter.format(r) for r in caplog.records if r.name == "anju.request"]
    [line] = [json.loads(text) for text in lines if '"console.search"' in text]
    assert line["officer_id"] == world.officers["officer_a"].id
    assert line["status"] == 200 and line["method"] == "GET"
    for text in lines:
        assert "11010519491231002X" not in text and "甲民警" not in text and "q=" not in text
