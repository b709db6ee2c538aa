"""The leaderboard as one self-contained HTML page.

Inline CSS and JS only, figures embedded as base64 PNG, and a Content-Security-Policy that forbids the page any
request (only inline style and script, images from data: URLs). Every shown value is HTML-escaped. Clicking a
column header sorts each row group of that table by the column (numbers by value, missing cells last; a second
click reverses). † ‡ ⚠ link to their footnotes.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from html import escape

from benchmark_tasks.leaderboard_compare import Comparison
from benchmark_tasks.leaderboard_table import Board
from benchmark_tasks.leaderboard_view import (
    DAGGER,
    DDAGGER,
    SPLIT_FLAG,
    TableView,
    ViewCell,
    comparison_table,
    comparison_title,
    main_table,
)

CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'; script-src 'unsafe-inline'"
_NOTE_IDS = {DAGGER: "fn-dagger", DDAGGER: "fn-ddagger", SPLIT_FLAG: "fn-split"}

_STYLE = """
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; margin: 24px; color: #1d2330;
       background: #fafbfc; }
h1 { font-size: 22px; margin: 0 0 4px; } h2 { font-size: 17px; margin: 28px 0 8px; } h3 { font-size: 14px; }
.sub { color: #5b6473; margin: 0 0 16px; }
.scroll { overflow-x: auto; border: 1px solid #d8dde6; border-radius: 6px; background: #fff; }
table { border-collapse: collapse; font-variant-numeric: tabular-nums; }
th, td { padding: 5px 10px; border-bottom: 1px solid #eceff4; text-align: left; white-space: nowrap; }
td.num { text-align: right; } td.missing { color: #a0a7b4; text-align: center; }
thead th { position: sticky; top: 0; background: #eef2f8; cursor: pointer; user-select: none; font-weight: 600;
           border-bottom: 2px solid #c9d2e0; }
thead th:hover { background: #e1e8f3; }
thead th[aria-sort="ascending"]::after { content: " \\25B2"; font-size: 10px; }
thead th[aria-sort="descending"]::after { content: " \\25BC"; font-size: 10px; }
tbody tr:nth-child(even) { background: #f7f9fc; }
tbody.published td { color: #3d4a66; background: #f3f0fa; }
tr.group th { background: #e4ddf3; color: #3a2d63; cursor: default; font-weight: 600; }
tbody.mean td { font-weight: 600; border-top: 2px solid #c9d2e0; }
sup a { text-decoration: none; color: #b3261e; }
.notes { color: #3b4352; max-width: 1100px; } .notes li { margin: 3px 0; }
figure { margin: 16px 0; } figure img { max-width: 100%; border: 1px solid #d8dde6; background: #fff; }
figcaption { color: #5b6473; font-size: 12px; }
"""

_SCRIPT = """
(function () {
  function key(row, col) {
    var cell = row.cells[col];
    if (!cell) return null;
    var v = cell.getAttribute("data-v");
    if (v === null) return cell.textContent.trim().toLowerCase();
    return v === "" ? null : parseFloat(v);
  }
  function compare(a, b, asc) {
    if (a === null && b === null) return 0;
    if (a === null) return 1;
    if (b === null) return -1;
    var r = (typeof a === "number" && typeof b === "number") ? a - b : String(a).localeCompare(String(b));
    return asc ? r : -r;
  }
  function sortBy(table, col, th) {
    var asc = th.getAttribute("aria-sort") !== "ascending";
    table.querySelectorAll("thead th").forEach(function (h) { h.removeAttribute("aria-sort"); });
    th.setAttribute("aria-sort", asc ? "ascending" : "descending");
    Array.prototype.forEach.call(table.tBodies, function (body) {
      var rows = Array.prototype.filter.call(body.rows, function (r) { return !r.classList.contains("group"); });
      rows.map(function (r, i) { return [r, i]; })
          .sort(function (x, y) { return compare(key(x[0], col), key(y[0], col), asc) || x[1] - y[1]; })
          .forEach(function (pair) { body.appendChild(pair[0]); });
    });
  }
  document.querySelectorAll("table.sortable").forEach(function (table) {
    table.querySelectorAll("thead th").forEach(function (th, col) {
      th.addEventListener("click", function () { sortBy(table, col, th); });
    });
  });
})();
"""


def _marks(marks: str) -> str:
    return "".join(f'<sup><a href="#{_NOTE_IDS[m]}">{escape(m)}</a></sup>' for m in marks)


def _td(cell: ViewCell, numeric: bool) -> str:
    classes = "missing" if cell.text == "—" else ("num" if numeric else "")
    attrs = f' class="{classes}"' if classes else ""
    if numeric:
        attrs += f' data-v="{"" if cell.sort is None else repr(float(cell.sort))}"'
    return f"<td{attrs}>{escape(cell.text)}{_marks(cell.marks)}{escape(cell.suffix)}</td>"


def _th(text: str) -> str:
    flagged = text.endswith(" " + SPLIT_FLAG)
    body = escape(text[: -len(SPLIT_FLAG) - 1]) + _marks(SPLIT_FLAG) if flagged else escape(text)
    return f'<th scope="col">{body}</th>'


def html_table(view: TableView, table_id: str) -> str:
    """A sortable table: one <tbody> per row group, a group title as its first (unsorted) row."""
    numeric = [h.numeric for h in view.headers]
    parts = [f'<div class="scroll"><table class="sortable" id="{escape(table_id)}">',
             "<thead><tr>" + "".join(_th(h.text) for h in view.headers) + "</tr></thead>"]
    for g in view.groups:
        parts.append(f'<tbody class="{escape(g.name)}">')
        if g.title:
            parts.append(f'<tr class="group"><th colspan="{len(view.headers)}">{escape(g.title)}</th></tr>')
        parts += ["<tr>" + "".join(_td(c, n) for c, n in zip(row, numeric)) + "</tr>" for row in g.rows]
        parts.append("</tbody>")
    parts.append("</table></div>")
    return "\n".join(parts)


def _note(text: str) -> str:
    mark = text[:1]
    if mark in _NOTE_IDS and text[1:2] == " ":
        return f'<li id="{_NOTE_IDS[mark]}"><strong>{escape(mark)}</strong>{escape(text[1:])}</li>'
    return f"<li>{escape(text)}</li>"


def _figure(png: bytes, alt: str, caption: str) -> str:
    data = base64.b64encode(png).decode("ascii")
    return (f'<figure><img alt="{escape(alt)}" src="data:image/png;base64,{data}">'
            f"<figcaption>{escape(caption)}</figcaption></figure>")


def render_html(board: Board, comps: Sequence[Comparison], bars: bytes, heat: bytes | None) -> str:
    """The whole page: table, footnotes, base-vs-aligned tables, the two figures."""
    view = main_table(board)
    body = [f"<h1>acula-zoo leaderboard</h1><p class=\"sub\">Built from {board.n_records} result records only. "
            "Click a column header to sort.</p>", html_table(view, "leaderboard"),
            '<h2>Notes</h2><ul class="notes">' + "".join(_note(n) for n in view.notes) + "</ul>"]
    if comps:
        body.append("<h2>Aligned vs base (paired bootstrap 95% CI over test items)</h2>")
        for i, comp in enumerate(comps):
            body += [f"<h3>{escape(comparison_title(comp))}</h3>", html_table(comparison_table(comp), f"cmp-{i}")]
    body.append("<h2>Figures</h2>")
    body.append(_figure(bars, "AUROC per task and encoder", "AUROC per task, whiskers: 95% bootstrap CI over "
                        "test items (our rows only)."))
    if heat is not None:
        body.append(_figure(heat, "aligned minus base heat map",
                            "aligned − base AUROC per task (the point values of the comparison tables)."))
    return ("<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
            f'<meta http-equiv="Content-Security-Policy" content="{CSP}">\n'
            '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
            '<link rel="icon" href="data:,">\n<title>acula-zoo leaderboard</title>\n'
            f"<style>{_STYLE}</style></head>\n<body>\n" + "\n".join(body)
            + f"\n<script>{_SCRIPT}</script>\n</body></html>\n")
