"""/api/v1/openapi.json is a valid OpenAPI 3 document, and the API sends what it promises:
numbers as numbers, timestamps as RFC 3339 with their offset."""
from __future__ import annotations

import json
import re
from datetime import date, datetime, timedelta

import pytest
from openapi_schema_validator import OAS30ReadValidator, oas30_format_checker
from openapi_spec_validator import validate

from tests.api.test_api import person, register, user_api
from tests.factories import make_address, make_jurisdiction

RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$")


@pytest.fixture()
def spec(client, db):
    resp = client.get("/api/v1/openapi.json")
    assert resp.status_code == 200
    return json.loads(resp.get_data(as_text=True))  # keeps the order the server sent


def _walk(node, path=""):
    if isinstance(node, dict):
        for key, value in node.items():
            yield path, key, value
            yield from _walk(value, f"{path}/{key}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _walk(value, f"{path}/{i}")


def test_openapi_document_is_valid(spec):
    validate(spec)


def test_numeric_bounds_are_numbers(spec):
    bounds = [(path, key, value) for path, key, value in _walk(spec)
              if key in ("minimum", "maximum", "minLength", "maxLength", "minItems", "maxItems")]
    assert any(path.endswith("HouseIn/properties/area_m2") for path, _, _ in bounds)
    for path, key, value in bounds:
        assert isinstance(value, (int, float)) and not isinstance(value, bool), (path, key, value)
    area = spec["components"]["schemas"]["HouseIn"]["properties"]["area_m2"]
    assert (area["minimum"], area["maximum"]) == (1, 100000)


def test_timestamps_are_documented_as_date_time(spec):
    schemas = spec["components"]["schemas"]
    for name, field in (("DeclarationOut", "created_at"), ("HouseOut", "pledge_signed_at"),
                        ("HouseOut", "last_confirmed_at")):
        assert schemas[name]["properties"][field]["format"] == "date-time", (name, field)


def test_every_operation_lists_401_before_429(spec):
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            codes = list(operation["responses"])
            assert "401" in codes and "429" in codes, (method, path)
            assert codes.index("401") < codes.index("429"), (method, path)


def _check(spec, name, body):
    """The body matches the documented schema, formats (date-time, date) included."""
    schema = {"components": spec["components"], "$ref": f"#/components/schemas/{name}"}
    OAS30ReadValidator(schema, format_checker=oas30_format_checker).validate(body)


def test_api_sends_rfc3339_timestamps_with_offset_and_matches_its_schemas(client, db, spec):
    place = make_jurisdiction()
    address = make_address(place["community"])
    db.session.commit()
    api, _ = user_api(client, db, "o-openapi")
    before = datetime.now().astimezone()
    created = register(api, address)
    assert created.status_code == 201
    declaration = created.get_json()
    house_id = declaration["house_id"]
    signed = api.post(f"/houses/{house_id}/pledge", {"signer_name": "房东", "agree": True})
    moved = api.post(f"/houses/{house_id}/move-ins", {"tenants": [
        dict(person(), start_date=date.today().isoformat())]})
    detail = api.get(f"/houses/{house_id}").get_json()
    for stamp in (declaration["created_at"], signed.get_json()["pledge_signed_at"],
                  moved.get_json()["created_at"]):
        assert RFC3339.match(stamp), stamp
        sent = datetime.fromisoformat(stamp)
        assert sent.utcoffset() == timedelta(hours=8)  # Beijing time, said so
        assert abs(sent - before) < timedelta(minutes=5)  # and the right instant
    _check(spec, "DeclarationOut", declaration)
    _check(spec, "DeclarationOut", moved.get_json())
    _check(spec, "HouseOut", signed.get_json())
    _check(spec, "HouseDetailOut", detail)
    assert len(detail["tenants"]) == 1
    for item in api.get("/declarations").get_json():
        _check(spec, "DeclarationOut", item)


def test_schema_check_catches_a_timestamp_without_offset(spec):
    from jsonschema.exceptions import ValidationError

    with pytest.raises(ValidationError):
        _check(spec, "DeclarationOut", {"created_at": "2026-12-01T08:00:00"})
