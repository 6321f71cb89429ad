"""Watch-list import (docs/IMPORTS.md): CSV and XLSX, bad rows reported by line with the reason,
good rows imported, the same file twice changes nothing, numbers kept only as blind indexes."""
from __future__ import annotations

import io

import pytest
from openpyxl import Workbook
from sqlalchemy import func, select

from app.extensions import db
from app.fakedata import FakeData
from app.models import ControlTask, Watch
from app.services.errors import RuleError
from app.services.police.watch import import_rows, read_table
from tests.console.helpers import DOCUMENTS

fake = FakeData(4242)
HEADER = ["证件类型", "证件号码", "姓名", "类别", "来源", "列管日期", "撤管日期"]


def _rows(other):
    return [
        HEADER,
        ["居民身份证", DOCUMENTS["A"], "A租客甲", "重点人员", "市局下发", "2026-11-01", ""],
        ["居民身份证", "110105194912310000", "坏号码", "重点人员", "市局下发", "2026-11-01", ""],
        ["驾驶证", other, "类型错", "重点人员", "市局下发", "2026-11-01", ""],
        ["居民身份证", other, "已撤管", "涉毒人员", "分局", "2026/10/01", "2026-11-20"],
        ["居民身份证", other, "日期错", "在逃人员", "分局", "昨天", ""],
        ["居民身份证", other, "", "在逃人员", "分局", "2026-10-01", ""],
    ]


def _csv(rows) -> bytes:
    return "\n".join(",".join(r) for r in rows).encode("utf-8-sig")


def _xlsx(rows) -> bytes:
    book = Workbook()
    sheet = book.active
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


@pytest.mark.parametrize("name,build", [("list.csv", _csv), ("list.xlsx", _xlsx)])
def test_import_reports_bad_rows_by_line_and_imports_good_ones(app, world, name, build):
    from tests.conftest import raw_dump

    other = fake.resident_id()
    report = import_rows(read_table(name, build(_rows(other))))
    db.session.commit()
    assert (report.imported, report.delisted) == (2, 1)
    assert [line for line, _ in report.errors] == [3, 4, 6, 7]
    reasons = dict(report.errors)
    assert "请核对最后一位" in reasons[3] and "证件类型应为" in reasons[4]
    assert reasons[6] == "列管日期应为日期，如 2026-11-01" and reasons[7] == "缺少姓名"
    assert report.tasks == 2  # A租客甲 lives in station A: 五见 + 四知
    dump = raw_dump(app)
    assert DOCUMENTS["A"] not in dump and other not in dump


@pytest.mark.parametrize("name,build", [("list.csv", _csv), ("list.xlsx", _xlsx)])
def test_importing_the_same_file_again_changes_nothing(world, name, build):
    data = build(_rows(fake.resident_id()))
    import_rows(read_table(name, data))
    db.session.commit()
    before = (db.session.execute(select(func.count()).select_from(Watch)).scalar_one(),
              db.session.execute(select(func.count()).select_from(ControlTask)).scalar_one())
    again = import_rows(read_table(name, data))
    db.session.commit()
    assert (again.imported, again.delisted, again.unchanged) == (0, 0, 2)
    after = (db.session.execute(select(func.count()).select_from(Watch)).scalar_one(),
             db.session.execute(select(func.count()).select_from(ControlTask)).scalar_one())
    assert before == after == (2, 2)


def test_a_later_file_with_a_delisting_date_delists(world):
    import_rows(read_table("a.csv", _csv(_rows(fake.resident_id())[:2])))
    rows = [HEADER, ["居民身份证", DOCUMENTS["A"], "A租客甲", "重点人员", "市局下发", "2026-11-01",
                     "2026-11-25"]]
    report = import_rows(read_table("b.csv", _csv(rows)))
    assert report.delisted == 1
    assert {t.status for t in db.session.execute(select(ControlTask)).scalars()} == {"cancelled"}


def test_missing_columns_and_wrong_file_types_are_refused_whole(world):
    with pytest.raises(RuleError) as exc:
        read_table("a.csv", "证件类型,姓名\n".encode())
    assert exc.value.message.startswith("缺少列：证件号码")
    with pytest.raises(RuleError):
        read_table("a.txt", b"x")
    with pytest.raises(RuleError) as exc:
        read_table("a.xlsx", b"not a zip")
    assert "无法读取" in exc.value.message


def test_gb18030_csv_is_read(world):
    data = "\n".join(",".join(r) for r in _rows(fake.resident_id())[:2]).encode("gb18030")
    assert import_rows(read_table("a.csv", data)).imported == 1


def test_flask_watch_import_command(app, world, tmp_path):
    path = tmp_path / "watch.xlsx"
    path.write_bytes(_xlsx(_rows(fake.resident_id())))
    result = app.test_cli_runner().invoke(args=["watch", "import", str(path)])
    assert result.exit_code == 0, result.output
    assert "imported 2 new" in result.output and "第 3 行" in result.output
