"""Inbox trust: links leading outside the inbox are not followed, and an implausible saved date
inside a workbook (2099, or far from the file's own time) does not choose among duplicates."""

from __future__ import annotations

import datetime as dt
import os
import shutil
from pathlib import Path

from test_consolidate import set_saved_time

from kpi_xl.catalog import Catalog
from kpi_xl.consolidate import consolidate


def test_links_leaving_the_inbox_are_skipped_with_a_warning(seed_filled_workbook: Path, tmp_path: Path,
                                                            sample_catalog: Catalog) -> None:
    inbox, outside = tmp_path / "inbox", tmp_path / "elsewhere"
    inbox.mkdir()
    outside.mkdir()
    shutil.copyfile(seed_filled_workbook, inbox / "a.xlsm")
    shutil.copyfile(seed_filled_workbook, outside / "planted.xlsm")
    (inbox / "link.xlsm").symlink_to(outside / "planted.xlsm")
    (inbox / "linked folder").symlink_to(outside, target_is_directory=True)
    (inbox / "same.xlsm").symlink_to(inbox / "a.xlsm")  # a link inside the inbox is an ordinary file
    result = consolidate(inbox, sample_catalog, 4, db=False, jobs=1)
    assert list(result.submissions["file"]) == ["a.xlsm", "same.xlsm"]
    skipped = result.problems[result.problems["code"] == "KPI-W601"]
    assert list(skipped["file"]) == ["link.xlsm", "linked folder"]
    assert "skipped a link that leads outside the inbox (link.xlsm)" in skipped.iloc[0]["message_en"]


def test_a_saved_date_in_the_future_does_not_choose(seed_filled_workbook: Path, tmp_path: Path,
                                                    sample_catalog: Catalog) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    draft, final = inbox / "draft.xlsm", inbox / "final.xlsm"
    shutil.copyfile(seed_filled_workbook, draft)
    shutil.copyfile(seed_filled_workbook, final)
    set_saved_time(draft, dt.datetime(2099, 1, 1, tzinfo=dt.UTC))
    now = dt.datetime.now(dt.UTC).timestamp()
    os.utime(draft, (now - 86400, now - 86400))  # the draft is a day older on disk
    os.utime(final, (now - 60, now - 60))
    result = consolidate(inbox, sample_catalog, 4, db=False, jobs=1)
    chosen = result.districts.set_index("district_code").loc[1030, "file"]
    assert chosen == "final.xlsm"
    warned = result.problems[result.problems["code"] == "KPI-W602"]
    assert list(warned["file"]) == ["draft.xlsm"]
    assert "(2099-01-01 00:00 UTC) lies in the future, so it is not used to choose" in warned.iloc[0]["message_en"]


def test_a_saved_date_far_from_the_file_time_does_not_choose(seed_filled_workbook: Path, tmp_path: Path,
                                                             sample_catalog: Catalog) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    stale, fresh = inbox / "stale.xlsm", inbox / "fresh.xlsm"
    shutil.copyfile(seed_filled_workbook, stale)
    shutil.copyfile(seed_filled_workbook, fresh)
    now = dt.datetime.now(dt.UTC)
    set_saved_time(stale, now - dt.timedelta(hours=1))  # claims the later save…
    set_saved_time(fresh, now - dt.timedelta(hours=2))
    old = (now - dt.timedelta(days=90)).timestamp()
    os.utime(stale, (old, old))  # …but the file itself is three months old
    result = consolidate(inbox, sample_catalog, 4, db=False, jobs=1)
    assert result.districts.set_index("district_code").loc[1030, "file"] == "fresh.xlsm"
    warned = result.problems[result.problems["code"] == "KPI-W602"]
    assert list(warned["file"]) == ["stale.xlsm"]
    assert "more than 30 days from the file's own time" in warned.iloc[0]["message_en"]
