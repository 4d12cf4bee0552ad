"""docs/performance.md from one run's figures, or several (`python -m bench.report sqlite.json postgresql.json`):
the goals of issue 15, the method, the tables, and which goals were met or missed by how much. Why a goal is
missed is measured by hand (profiling) and kept in bench/notes.md, which is included as it stands."""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NOTES = Path(__file__).resolve().parent / "notes.md"

# The goals (issue 15), at national scale. Ratios are measured in one run; a benchmark, never a timed test.
PARTNER_RATIO = 8.0  # in-process median, × /healthz
STAFF_RATIO = 15.0  # every CSU and finance page
HTTP_PARTNER_P95 = 3.0  # over HTTP, p95 × /healthz p95
HTTP_OVERVIEW_P95 = 5.0
AUTOSAVE_SHARE = 0.25  # autosaves a second ≥ this share of /healthz's
XLSX_SECONDS = 2.0
MAX_QUERIES = 12
MAX_HTML_BYTES = 300 * 1000
FIRST_PAGE_BYTES = 100 * 1000

GOALS = f"""At national scale (3,000 projects a year × 10 years), from issue 15:

- in-process: partner pages ≤ {PARTNER_RATIO:g}× `/healthz`, every CSU and finance page ≤ {STAFF_RATIO:g}×
  (medians, in the same run);
- over HTTP: partner pages p95 ≤ {HTTP_PARTNER_P95:g}× `/healthz` p95, the CSU overview ≤ {HTTP_OVERVIEW_P95:g}×;
- autosave throughput ≥ {AUTOSAVE_SHARE:.0%} of `/healthz` throughput;
- a year's XLSX ≤ {XLSX_SECONDS:g} s;
- every page ≤ {MAX_QUERIES} SQL queries;
- no HTML page over {MAX_HTML_BYTES // 1000} KB;
- the first page ≤ {FIRST_PAGE_BYTES // 1000} KB on the wire."""

METHOD = """\
`make bench` (`python -m bench`) builds a scratch database (`bench/build.py`: SQLAlchemy Core bulk inserts into
the app's own tables, made by `db.create_all`, on SQLite or on a PostgreSQL server named by `DATABASE_URL`) and
times it two ways:

- **In-process** (`bench/pages.py`), Flask's test client: for each page, one request to warm it, then N rounds of
  (`/healthz`, the page). "× healthz" is the page's median over the median of the `/healthz` requests interleaved
  with it (p95 likewise), so a machine that slows down for a while slows both. SQL statements are counted per
  request with a `before_cursor_execute` listener (the most in any round), and "SQL ms" is the median time
  between `before_` and `after_cursor_execute` (psycopg has the rows by then; SQLite produces most of them while
  they are fetched, which is not counted); bytes are the response body's. Partner
  pages are the first partner's project in the current year's open quarter (the return overview: a reported
  quarter with a send-back in its history); whole-year pages are on the latest complete year, four quarters
  reported. The autosave is the outputs form's real htmx POST (CSRF token, a changed figure, the last version).
- **Over HTTP** (`bench/overhttp.py`): gunicorn (`gunicorn.conf.py`, 2 workers) on a free port, several clients
  (threads, `http.client`), each signed in through the sign-in form as its own partner. Latency, page by page:
  bursts of every client asking for `/healthz` alternate with bursts of every client asking for the page (twice
  each, `--rounds` requests a client in all); the page's p95 is set against `/healthz`'s, at the same concurrency
  (so neither waits in the workers' queue behind the other).
  Throughput: alternate windows of every client asking for `/healthz` and every client autosaving its own draft.
  First page: the sign-in page and everything it loads (stylesheets, scripts and the modules they import, icons),
  without compression and with gzip (the server's own encoding where it sends one, else gzip level 6 here, as
  the reverse proxy the README describes would).

Times on a shared machine are noisy: compare ratios from one run, never absolute times between runs."""


@dataclass
class Verdict:
    met: bool | None  # None: not measured
    text: str


def _ratio_goal(row: dict) -> float | None:
    return {"partner": PARTNER_RATIO, "csu": STAFF_RATIO, "finance": STAFF_RATIO}.get(row["group"])


def verdicts(row: dict) -> list[Verdict]:
    """What the in-process row says about each goal that applies to it."""
    if row["median_ms"] is None:
        return [Verdict(False, f"not measured: {row['error']}")]
    found = []
    goal = _ratio_goal(row)
    if goal is not None:
        met = row["ratio"] <= goal
        found.append(
            Verdict(
                met,
                f"≤ {goal:g}×"
                if met
                else f"{row['ratio']:g}× healthz, goal {goal:g}× ({row['ratio'] / goal:.1f} times it)",
            )
        )
    else:
        seconds = row["median_ms"] / 1000
        met = seconds <= XLSX_SECONDS
        found.append(Verdict(met, f"≤ {XLSX_SECONDS:g} s" if met else f"{seconds:.1f} s, goal {XLSX_SECONDS:g} s"))
    if row["queries"] is not None and row["queries"] > MAX_QUERIES:
        found.append(
            Verdict(False, f"{row['queries']} queries, goal {MAX_QUERIES} ({row['queries'] - MAX_QUERIES} over)")
        )
    if row["content_type"] == "text/html" and row["bytes"] > MAX_HTML_BYTES:
        size = f"{row['bytes'] / 1000:,.0f} KB"
        found.append(
            Verdict(
                False,
                f"{size}, goal {MAX_HTML_BYTES // 1000} KB ({(row['bytes'] - MAX_HTML_BYTES) / 1000:,.0f} KB over)",
            )
        )
    return found


def _cell(found: list[Verdict]) -> str:
    missed = [item.text for item in found if not item.met]
    return "met" if not missed else "**missed**: " + "; ".join(missed)


def _num(value, digits: int = 1) -> str:
    return "—" if value is None else f"{value:,.{digits}f}"


def in_process_table(rows: list[dict]) -> str:
    lines = [
        "| page | URL | median ms | p95 ms | healthz ms | × healthz | × healthz p95 | queries | SQL ms | bytes "
        "| goal |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for row in rows:
        path = f"{row['method']} `{row['path']}`" if row["method"] != "GET" else f"`{row['path']}`"
        queries = "—" if row["queries"] is None else str(row["queries"])
        if row["queries_min"] is not None and row["queries_min"] != row["queries"]:
            queries = f"{row['queries_min']}–{row['queries']}"
        lines.append(
            f"| {row['name']} | {path} | {_num(row['median_ms'])} | {_num(row['p95_ms'])} | "
            f"{_num(row['healthz_median_ms'], 2)} | {_num(row['ratio'])} | "
            f"{_num(row['ratio_p95'])} | {queries} | {_num(row.get('sql_ms'))} | {row['bytes']:,} | "
            f"{_cell(verdicts(row))} |"
        )
    return "\n".join(lines)


def http_sections(http: dict) -> str:
    lines = [
        f"gunicorn with {http['workers']} workers, {http['clients']} concurrent clients.",
        "",
        "| page | requests | median ms | p95 ms | healthz p95 ms | × healthz p95 | goal |",
        "|---|---:|---:|---:|---:|---:|---|",
    ]
    for row in http["pages"]:
        goal = HTTP_OVERVIEW_P95 if row["name"].startswith("CSU") else HTTP_PARTNER_P95
        lines.append(
            f"| {row['name']} | {row['requests']} | {_num(row.get('median_ms'))} | {_num(row.get('p95_ms'))} | "
            f"{_num(row.get('healthz_p95_ms'))} | {_num(row.get('ratio_p95'))} | {_http_verdict(row, goal)} |"
        )
    rates = http["throughput"]
    share_ok = rates["share"] >= AUTOSAVE_SHARE
    lines += [
        "",
        f"Throughput, {rates['clients']} clients: autosave **{rates['autosave_per_s']}/s** against `/healthz` "
        f"{rates['healthz_per_s']}/s: **{rates['share']:.1%}** "
        + (
            f"(goal ≥ {AUTOSAVE_SHARE:.0%}: met)"
            if share_ok
            else f"(goal ≥ {AUTOSAVE_SHARE:.0%}: **missed**, {AUTOSAVE_SHARE / max(rates['share'], 1e-9):.1f}× short)"
        )
        + f"; {rates['autosaves']} autosaves, {rates['failed']} not saved.",
    ]
    lines += ["", _wrk_line(http.get("wrk") or {"skipped": "not measured in this run"})]
    first = http["first_page"]
    first_ok = first["gzip_bytes"] <= FIRST_PAGE_BYTES
    lines += [
        "",
        f"First page (the sign-in page and what it loads): **{first['identity_bytes'] / 1000:,.1f} KB** without "
        f"compression, **{first['gzip_bytes'] / 1000:,.1f} KB** with gzip "
        + (
            f"(goal ≤ {FIRST_PAGE_BYTES // 1000} KB on the wire: met)"
            if first_ok
            else f"(goal ≤ {FIRST_PAGE_BYTES // 1000} KB: **missed** by "
            f"{(first['gzip_bytes'] - FIRST_PAGE_BYTES) / 1000:,.1f} KB)"
        )
        + ".",
        "",
        "| file | bytes | with gzip | gzip by the server |",
        "|---|---:|---:|---|",
    ]
    for item in first["items"]:
        by_server = "yes" if item["served_gzip"] else "no (gzip -6 here)"
        lines.append(f"| `{item['path']}` | {item['bytes']:,} | {item['gzip_bytes']:,} | {by_server} |")
    return "\n".join(lines)


def _wrk_line(wrk: dict) -> str:
    """The raw throughput baseline (RELIABILITY L7): capacity, and no errors under it."""
    if "skipped" in wrk:
        return f"Raw throughput baseline (`wrk -t2 -c50 -d30s` on `/sign-in`): skipped, {wrk['skipped']}."
    clean = wrk["socket_errors"] == 0 and wrk["non_2xx_3xx"] == 0
    return (
        f"Raw throughput baseline (`{wrk['command']}`): **{wrk['requests_per_s']:,.0f} requests/s**, "
        f"{wrk['requests']:,} requests, {wrk['socket_errors']} socket errors, {wrk['non_2xx_3xx']} answers "
        "other than 2xx/3xx" + (" (no errors: met)." if clean else " (**errors**).")
    )


def _http_verdict(row: dict, goal: float) -> str:
    if row["statuses"] != [200]:
        return f"**missed**: answered {row['statuses']} (0: no answer)"
    if row["ratio_p95"] <= goal:
        return "met"
    return f"**missed**: {row['ratio_p95']:g}× healthz p95, goal {goal:g}× ({row['ratio_p95'] / goal:.1f} times it)"


def missed_summary(rows: list[dict], http: dict | None) -> list[str]:
    """One line per goal missed, with by how much."""
    found = []
    for row in rows:
        for item in verdicts(row):
            if not item.met:
                found.append(f"- {row['name']}: {item.text}")
    if http:
        for row in http["pages"]:
            goal = HTTP_OVERVIEW_P95 if row["name"].startswith("CSU") else HTTP_PARTNER_P95
            if _http_verdict(row, goal) != "met":
                found.append(f"- {row['name']} over HTTP: {_http_verdict(row, goal).removeprefix('**missed**: ')}")
        if http["throughput"]["share"] < AUTOSAVE_SHARE:
            found.append(
                f"- autosave throughput: {http['throughput']['share']:.1%} of healthz, goal {AUTOSAVE_SHARE:.0%}"
            )
        if http["first_page"]["gzip_bytes"] > FIRST_PAGE_BYTES:
            found.append(f"- first page: {http['first_page']['gzip_bytes'] / 1000:,.1f} KB with gzip, goal 100 KB")
    return found


def render(*runs: dict) -> str:
    """The whole document: goals, method, then each run (one per database when several are given), then the notes."""
    parts = [
        "# Performance",
        "",
        "Written by `make bench` (`bench/report.py`), or from runs saved with `--json` by `python -m bench.report`;"
        " see `bench/README.md`. Do not edit by hand: the notes at the end come from `bench/notes.md`.",
        "",
        "## Goals",
        "",
        GOALS,
        "",
        "## Method",
        "",
        METHOD,
    ]
    for run in runs:
        parts += ["", *run_section(run, titled=len(runs) > 1)]
    if NOTES.exists():
        parts += ["", NOTES.read_text(encoding="utf-8").strip()]
    return "\n".join(parts) + "\n"


def run_section(run: dict, *, titled: bool) -> list[str]:
    data, machine = run["data"], run["machine"]
    counts = ", ".join(f"{table.replace('_', ' ')} {count:,}" for table, count in data["counts"].items())
    missed = missed_summary(run["pages"], run.get("http"))
    parts = [
        f"## Last run: {run['database'].split()[0]}" if titled else "## Last run",
        "",
        f"- **Date:** {run['date']}",
        f"- **Scale:** `{data['scale']}` ({counts}); built in {data['seconds']:,.0f} s",
        f"- **Database:** {run['database']}",
        f"- **Machine:** {machine['cpus']} CPUs ({machine['platform']}, Python {machine['python']}), load average "
        f"{machine['load_before']} before the run, shared with other work",
        f"- **Repetitions:** {run['repeat']} per page in-process; years timed: whole-year pages "
        f"{data['busy_year']}, partner pages {data['current_year']} Q{data['open_quarter']}",
    ]
    if data["scale"] != "national":
        parts.append(
            f"- **Not national scale.** The goals are set for national scale; this run is `{data['scale']}`, so a"
            " page whose cost grows with the number of projects will be slower at national scale than here."
        )
    parts += ["", "### In-process", "", in_process_table(run["pages"]), ""]
    if run.get("http"):
        parts += ["### Over HTTP", "", http_sections(run["http"]), ""]
    else:
        parts += ["### Over HTTP", "", "Not run (`--no-http`).", ""]
    parts += ["### Goals missed in this run", ""]
    return parts + (missed or ["None."])


def write(path: Path, *runs: dict) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render(*runs), encoding="utf-8")
    return path


def main() -> None:
    """Render the document again from runs saved with `python -m bench --json` (say, SQLite's and PostgreSQL's)."""
    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("runs", nargs="+", type=Path, help="JSON files written by python -m bench --json")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "performance.md")
    args = parser.parse_args()
    write(args.out, *(json.loads(path.read_text(encoding="utf-8")) for path in args.runs))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
