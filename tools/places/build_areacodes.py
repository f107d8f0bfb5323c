"""Check ``data/admin_changes.csv`` against the ministry's code history, and add the 1990s.

    git -C AREACODES show COMMIT:result.csv > result.csv
    python -m sinoloc.tools.places.build_areacodes result.csv --commit COMMIT [--write]

``yescallop/areacodes`` (CC0 1.0; https://github.com/yescallop/areacodes) republishes the civil
affairs ministry's county-level-and-above code lists (中华人民共和国县级以上行政区划代码) for every
year since 1981 and links each retired or changed code to the codes that took its area
(``result.csv``: code, province, city, name, level, status 在用/变更/弃用, first and last year, new
codes). Its "变更/弃用时间" is the first yearly list without the old name, which this table takes as
the change's year (an approval late in a year can land in the next list's year).

Every row of the table is looked up there (the old name, its province and city, a retired or
renamed code); a row that matches is cited by repository, path, commit and line, and where the
source gives another year or other successor districts the row takes the source's. County-level
changes whose old name left the lists in 1990–1999 are added where they are clean: a name that no
longer names a region of its city and did not go on under another code, successors that are the
very regions in use today (a change followed by another, 胶南县 → 胶南市 → 黄岛区, is left to the
later row), all in one city, and no generic name (郊区, 城区). ``--write`` rewrites the table; without
it the corrections and additions are only printed. Not a runtime dependency.
"""

from __future__ import annotations

import argparse
import csv
import io
import sys
from pathlib import Path

from sinoloc.tools.places.admin_changes import COLUMNS, DATA_FILE, AdminChangeError, _row
from sinoloc.tools.regions import get_region_index

REPO = "yescallop/areacodes"
ANNOUNCEMENT = "民政部 中华人民共和国县级以上行政区划代码 {year}年"
_MUNICIPALITIES = {"北京市", "天津市", "上海市", "重庆市"}
# generic names, and the directional ones that are Hong Kong's districts today (东区, 北区)
_GENERIC = {"郊区", "城区", "矿区", "市辖区", "市中区", "新区", "东区", "西区", "南区", "北区"}


def _load(path: Path) -> list[dict]:
    with path.open(encoding="utf-8-sig") as fh:
        rows = list(csv.DictReader(fh))
    for line, row in enumerate(rows, start=2):
        row["line"] = line
    return rows


class History:
    def __init__(self, rows: list[dict]) -> None:
        self.rows = rows
        self.by_code: dict[str, list[dict]] = {}
        for row in rows:
            self.by_code.setdefault(row["代码"], []).append(row)
        # prefecture-level names in use today (a record under another is an old prefecture's)
        self.city_names = {r["名称"] for r in rows if r["级别"] == "地级" and r["状态"] == "在用"}

    def current(self, code: str, depth: int = 0) -> list[dict]:
        """Today's records that hold the area of ``code`` (followed through later changes)."""
        records = self.by_code.get(code, [])
        live = [r for r in records if r["状态"] == "在用"]
        if live or depth > 8:
            return live[:1]
        out: list[dict] = []
        for record in records:
            for nxt in record["新代码"].split(";"):
                nxt = nxt.split("[")[0]
                if nxt and nxt != code:
                    out += [r for r in self.current(nxt, depth + 1) if r not in out]
        return out

    def successors(self, record: dict) -> list[dict]:
        codes = [c.split("[")[0] for c in record["新代码"].split(";") if c] or [record["代码"]]
        out: list[dict] = []
        for code in codes:
            out += [r for r in self.current(code) if r not in out]
        return out


def _cite(record: dict, commit: str) -> str:
    return (f"{REPO}@{commit[:12]} result.csv:{record['line']} ({record['代码']} {record['名称']} "
            f"{record['状态']} {record['启用时间']}–{record['变更/弃用时间']} → {record['新代码'] or '-'})")


def _retired(history: History, name: str) -> list[dict]:
    """The source's records of ``name`` that left the lists (retired or changed, with a year)."""
    return [r for r in history.rows if r["名称"] == name
            and r["状态"] in ("弃用", "变更") and r["变更/弃用时间"]]


def _best_record(records: list[dict], row: dict, want: set[str], history: History) -> dict:
    """The record that fits ``row`` best: its province or city, its year, its successors."""
    def fit(record: dict) -> tuple:
        names = {s["名称"] for s in history.successors(record)}
        gap = abs(int(record["变更/弃用时间"]) - int(row["year"]))
        return (record["一级行政区"] == row["province"] or record["二级行政区"] == row["city"],
                record["二级行政区"] in (row["city"], row["old_name"], "直辖"), gap <= 1,
                bool(want) and want <= names, -gap)

    return max(records, key=fit)


def _corrected_successors(record: dict, heirs: list[dict], want: set[str]) -> list[str] | None:
    """The source's successor names where the row's (``want``) are not among ``heirs`` and the
    source's principal successors lie in one city; else None (the row's stand)."""
    successors = principal(record["名称"], heirs)
    if want and not want <= {s["名称"] for s in heirs} and successors \
            and len({s["二级行政区"] for s in successors}) == 1:
        return [s["名称"] for s in successors]
    return None


def _cited(earlier: str, record: dict, commit: str) -> str:
    """The source column: the citation of ``record``, then the earlier sources that were checked."""
    kept = [part.strip() for part in earlier.strip().split(" | ")
            if part.strip() and "typed from" not in part and REPO not in part]
    return " | ".join([_cite(record, commit), *kept])


def _same_place(record: dict, row: dict, history: History) -> bool:
    """Whether the source's ``record`` can be the row's region: in the row's city (or the city
    it went to), or a municipality's district, or in the row's province under a prefecture
    that is no city today (烟台地区) — never another city of the province."""
    city = record["二级行政区"]
    if city in (row["city"], row["new_city"], row["old_name"]):
        return True
    if record["一级行政区"] != row["province"]:
        return False
    return city in ("直辖", "") or city not in history.city_names


def verify(row: dict, history: History, commit: str) -> tuple[dict | None, list[str]]:
    """The row checked (cited, with the source's year and successors), or None where the
    source does not list the change; and the corrections made."""
    records = _retired(history, row["old_name"])
    if not records:
        return None, []
    want = set(row["new_names"].split(";")) if row["new_names"] else set()
    record = _best_record(records, row, want, history)
    if not _same_place(record, row, history):
        return None, []  # the same name elsewhere (another city's 郊区) is not this change
    fixed, notes = dict(row), []
    if record["变更/弃用时间"] != row["year"]:
        notes.append(f"year {row['year']} → {record['变更/弃用时间']}")
        fixed["year"] = record["变更/弃用时间"]
    names = _corrected_successors(record, history.successors(record), want)
    if names is not None:
        notes.append(f"successors {row['new_names']} → {';'.join(names)}")
        fixed["new_names"] = ";".join(names)
        if len(names) > 1 and row["change"] == "merged":
            fixed["change"] = "split"
    fixed["source"] = _cited(row["source"], record, commit)  # with a checked earlier source
    return fixed, notes


def _stem(name: str) -> str:
    return name[:-1] if len(name) > 2 and name[-1] in "市县区" else name


def principal(old: str, successors: list[dict]) -> list[dict]:
    """The successors that carry the old name's stem (武进市 → 武进区, not also 新北区, which took
    a few of its towns), else all of them: a sign with the old name stands in its main heir."""
    same = [s for s in successors if _stem(s["名称"]) == _stem(old)]
    return same or successors


def _kind(old: str, successors: list[dict]) -> str:
    if len(successors) > 1:
        return "split"
    new = successors[0]["名称"]
    if old.endswith("市") and new.endswith("区"):
        return "city_to_district"
    if old.endswith("县") and new.endswith("区"):
        return "county_to_district"
    if old.endswith("县") and new.endswith("市"):
        return "county_to_city"
    if old.endswith("区") and new.endswith("县"):
        return "district_to_county"
    return "merged"  # (a successor under the same code is a rename: see nineties)


def _left_in_nineties(record: dict) -> bool:
    """A county-level name, not a generic one, retired or changed in 1990–1999."""
    end = record["变更/弃用时间"]
    if record["级别"] != "县级" or not end or not 1990 <= int(end) <= 1999:
        return False
    return record["状态"] in ("弃用", "变更") and record["名称"] not in _GENERIC


def _name_went_on(record: dict, direct: list[str], history: History) -> bool:
    """Whether the name went on under another code (文登市, 1988 → 1990; 双桥区 in 重庆, 1997)."""
    end = record["变更/弃用时间"]
    return any(r["名称"] == record["名称"] and r["启用时间"] >= end
               and (r["一级行政区"] == record["一级行政区"] or r["代码"] in direct)
               for r in history.rows)


def _clean_successors(record: dict, history: History) -> list[dict] | None:
    """The principal successors of a clean change, all in one city; else None."""
    direct = [c.split("[")[0] for c in record["新代码"].split(";") if c]
    if _name_went_on(record, direct, history):
        return None
    if not direct or not all(any(r["状态"] == "在用" for r in history.by_code.get(c, []))
                             for c in direct):
        return None  # changed again later (胶南县 → 胶南市 → 黄岛区): that later row tells it
    successors = principal(record["名称"], history.successors(record))
    if not successors or len({s["二级行政区"] for s in successors}) != 1:
        return None
    return successors


def _nineties_row(record: dict, successors: list[dict], commit: str) -> dict | None:
    """The table row for ``record``'s change to ``successors``, or None where it is left out."""
    names = [s["名称"] for s in successors]
    city = successors[0]["二级行政区"]
    if city == "直辖":  # a municipality's districts; other directly governed counties are left out
        if successors[0]["一级行政区"] not in _MUNICIPALITIES:
            return None
        city = successors[0]["一级行政区"]
    if record["名称"] in names or any(n in _GENERIC for n in names):
        return None  # the name is still in use (a new code only), or a generic successor
    kind = _kind(record["名称"], successors)
    if kind == "merged" and any(s["代码"] == record["代码"] for s in successors):
        kind = "renamed"
    end, old_city = record["变更/弃用时间"], record["二级行政区"]
    return {"year": end, "change": kind, "province": successors[0]["一级行政区"],
            "city": city if old_city in ("直辖", "") else old_city,
            "old_name": record["名称"], "new_city": city,
            "new_names": ";".join(names), "announcement": ANNOUNCEMENT.format(year=end),
            "source": _cite(record, commit)}


def nineties(history: History, commit: str, taken: set[tuple[str, str]]) -> list[dict]:
    """Clean county-level changes whose old name left the lists in 1990–1999."""
    out = []
    for record in history.rows:
        if not _left_in_nineties(record):
            continue
        successors = _clean_successors(record, history)
        row = None if successors is None else _nineties_row(record, successors, commit)
        if row is None or (row["old_name"], row["new_city"]) in taken:
            continue
        taken.add((row["old_name"], row["new_city"]))
        out.append(row)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("result_csv", type=Path)
    parser.add_argument("--commit", required=True, help="the areacodes commit result.csv is from")
    parser.add_argument("--write", action="store_true")
    args = parser.parse_args(argv)
    history = History(_load(args.result_csv))
    index = get_region_index()
    with DATA_FILE.open(encoding="utf-8") as fh:
        table = list(csv.DictReader(fh))
    kept, unlisted = [], []
    for row in table:
        fixed, notes = verify(row, history, args.commit)
        if fixed is None:
            unlisted.append(row)
            kept.append(row)
            print(f"not in the source, kept as it was: {row['year']} {row['old_name']}", file=sys.stderr)
            continue
        for note in notes:
            print(f"corrected {row['old_name']} ({row['city']}): {note}", file=sys.stderr)
        kept.append(fixed)
    taken = {(r["old_name"], r["new_city"]) for r in kept}
    added = []
    for row in nineties(history, args.commit, taken):
        try:
            _row(row, index, f"{row['old_name']}")
        except AdminChangeError as exc:
            print(f"1990s row left out: {exc}", file=sys.stderr)
            continue
        added.append(row)
    rows = sorted(kept + added, key=lambda r: (int(r["year"]), r["province"], r["city"], r["old_name"]))
    print(f"{len(table)} rows checked ({len(table) - len(unlisted)} found in {REPO}), "
          f"{len(added)} rows of the 1990s added: {len(rows)} rows", file=sys.stderr)
    if args.write:
        out = io.StringIO()
        writer = csv.DictWriter(out, fieldnames=COLUMNS, lineterminator="\n", extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
        DATA_FILE.write_text(out.getvalue(), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
