"""The HTML run report of `--output-html FILE` (issue 17, section 2): one self-contained file.

It holds the run's status line, a timeline drawn as inline SVG (one bar per
execution; a block's sub-tasks grouped under it, by host; colour by status;
hovering a bar shows its times), the recap table (every row, none counted) and
each task's masked output, collapsed. Nothing is loaded from anywhere: the
style and the one small script (which opens the outputs for printing) are
inline, and the page's Content-Security-Policy allows exactly those two, by
hash. Every text from the run (outputs, hosts, commands, the file's name) is
data from outside and is HTML-escaped; the file is 0600 like every record.
"""

from __future__ import annotations

import base64
import hashlib
import html
from datetime import datetime
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

from tasker.record import record
from tasker.report.atomic import atomic_write
from tasker.report.executions import Execution, RunView, TaskOutput
from tasker.report.logger import escape_controls
from tasker.report.recap import (
    HEADINGS,
    RIGHT_ALIGNED,
    Key,
    RecapRow,
    duration_text,
    group_executions,
    recap_rows,
)
from tasker.results import SKIPPED

LABEL_WIDTH, PLOT_WIDTH, AXIS_HEIGHT, LANE_HEIGHT, BAR_HEIGHT = 220, 780, 26, 18, 12
MIN_BAR = 2.0  # a skipped task (no time) still gets a visible bar
TICKS = 4

STYLE = """
:root{--ok:#2e7d32;--fail:#c62828;--timeout:#6a1b9a;--skip:#a08b00;--line:#ddd}
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;margin:1rem auto;
 max-width:72rem;padding:0 1rem;color:#222;line-height:1.4}
h1{font-size:1.3rem;overflow-wrap:anywhere}h2{font-size:1.1rem;margin-top:1.5rem}
.status{font-weight:600}.success{color:var(--ok)}.failed,.validation_failed{color:var(--fail)}
.interrupted,.timeout{color:var(--timeout)}.skipped,.partial{color:var(--skip)}
.timeline{overflow-x:auto}svg{width:100%;min-width:24rem;height:auto}
svg text{font:11px ui-monospace,monospace;fill:#333}.grid{stroke:var(--line)}
.lane-group{fill:#f4f4f4}.bar{fill:#888}.bar.success{fill:var(--ok)}
.bar.failed{fill:var(--fail)}.bar.timeout{fill:var(--timeout)}.bar.skipped{fill:var(--skip)}
.table{overflow-x:auto}table{border-collapse:collapse;font-variant-numeric:tabular-nums}
th,td{padding:.2rem .6rem;border-bottom:1px solid var(--line);text-align:left;
 white-space:nowrap}td.num,th.num{text-align:right}tr.failed td,tr.timeout td{background:#fdecea}
details{border:1px solid var(--line);border-radius:4px;margin:.4rem 0;padding:.3rem .6rem}
summary{cursor:pointer;overflow-wrap:anywhere}
pre{white-space:pre-wrap;overflow-wrap:anywhere;background:#f6f6f6;padding:.5rem;
 max-height:30rem;overflow:auto;font-size:.85rem}
@media (max-width:40rem){body{padding:0 .4rem;font-size:.92rem}th,td{padding:.15rem .35rem}}
@media print{body{max-width:none}pre{max-height:none;overflow:visible}
 details::details-content{content-visibility:visible;display:block}
 .timeline{overflow:visible}tr{break-inside:avoid}}
"""
# Printing opens every output (browsers without ::details-content print them closed).
SCRIPT = ('addEventListener("beforeprint",function(){'
          'document.querySelectorAll("details").forEach(function(d){d.open=true;});});')


@record(frozen=True)
class Lane:
    """One line of the timeline: a task, a block, or one sub-task of a block."""

    label: str
    executions: Tuple[Execution, ...]
    block: Optional[int] = None  # set on a sub-task's lane


def text(value: object) -> str:
    """`value` as HTML text: controls shown as `\\x1b`, markup characters escaped."""
    return html.escape(escape_controls(str(value)), quote=True)


def _csp_hash(source: str) -> str:
    digest = hashlib.sha256(source.encode("utf-8")).digest()
    return "'sha256-" + base64.b64encode(digest).decode("ascii") + "'"


def lanes(executions: Sequence[Execution]) -> List[Lane]:
    """Tasks and blocks in the order they first ran; after a block, its sub-tasks by host."""
    groups = group_executions(executions)
    units: Dict[int, List[Key]] = {}
    for key in groups:
        block, task = key
        units.setdefault(task if block is None else block, []).append(key)
    first = {key: n for n, key in enumerate(groups)}
    found: List[Lane] = []
    for unit, keys in units.items():
        subs = sorted((k for k in keys if k[0] is not None),
                      key=lambda k: (groups[k][-1].host, first[k]))
        own = groups.get((None, unit), [])
        if own or subs:  # (a block interrupted before its result has no execution itself)
            found.append(Lane(str(unit), tuple(own)))
        for key in subs:
            runs = groups[key]
            host = f" {runs[-1].host}" if runs[-1].host else ""
            found.append(Lane(f"{runs[-1].label}{host}", tuple(runs), unit))
    return found


def clock(t: float) -> str:
    """Local time of day with milliseconds."""
    return datetime.fromtimestamp(t).strftime("%H:%M:%S.%f")[:-3]


def bar_title(execution: Execution) -> str:
    """What hovering a bar says."""
    parts = [execution.label, execution.host, execution.status]
    if execution.status != SKIPPED and execution.exit_code is not None:
        parts.append(f"exit {execution.exit_code}")
    if execution.iteration is not None:
        parts.append(f"iteration {execution.iteration}")
    if execution.attempt > 1:
        parts.append(f"attempt {execution.attempt}")
    when = (f"{clock(execution.start)} to {clock(execution.end)} "
            f"({duration_text(execution.duration)})")
    return " · ".join(p for p in parts if p) + " · " + when


def timeline_svg(executions: Sequence[Execution], started: float) -> str:
    """The timeline: one `rect.bar` per execution, a `title` on each for hovering."""
    rows = lanes(executions)
    t0 = min([e.start for e in executions if e.start] or [started])  # (not the validation)
    span = max([e.end for e in executions] + [t0]) - t0 or 1.0
    width, height = LABEL_WIDTH + PLOT_WIDTH + 10, AXIS_HEIGHT + LANE_HEIGHT * len(rows) + 4
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
           f'role="img" aria-label="Timeline of {len(executions)} executions">']
    for k in range(TICKS + 1):
        x = LABEL_WIDTH + PLOT_WIDTH * k / TICKS
        anchor = "start" if k == 0 else "end" if k == TICKS else "middle"
        out.append(f'<line class="grid" x1="{x:.1f}" y1="{AXIS_HEIGHT - 6}" x2="{x:.1f}" '
                   f'y2="{height}"/><text x="{x:.1f}" y="14" text-anchor="{anchor}">'
                   f'+{duration_text(span * k / TICKS)}</text>')
    for n, lane in enumerate(rows):
        y = AXIS_HEIGHT + n * LANE_HEIGHT
        if lane.block is not None:
            out.append(f'<rect class="lane-group" x="0" y="{y}" width="{width}" '
                       f'height="{LANE_HEIGHT}"/>')
        indent = 14 if lane.block is not None else 4
        out.append(f'<text x="{indent}" y="{y + 13}">{text(lane.label[:32])}</text>')
        for e in lane.executions:
            x = LABEL_WIDTH + PLOT_WIDTH * ((e.start or t0) - t0) / span
            w = max(MIN_BAR, PLOT_WIDTH * e.duration / span)
            out.append(f'<rect class="bar {text(e.status)}" data-task="{e.task}" '
                       f'x="{x:.1f}" y="{y + 3}" width="{w:.1f}" height="{BAR_HEIGHT}">'
                       f'<title>{text(bar_title(e))}</title></rect>')
    out.append("</svg>")
    return "\n".join(out)


def _row_cells(row: RecapRow) -> List[str]:
    if row.counts is not None:
        said = ", ".join(f"{n} {status}" for status, n in row.counts)
        return [row.label, "-", said, "", str(row.runs), "", ""]
    code = "-" if row.exit_code is None or row.status == SKIPPED else str(row.exit_code)
    return [row.label, row.host or "-", row.status_text, code, str(row.runs), str(row.attempts),
            duration_text(row.duration)]


def recap_table(executions: Sequence[Execution]) -> str:
    """The recap as a table, every sub-task listed; each row says its task in `data-task`."""
    head = "".join(f'<th{" class=num" if i in RIGHT_ALIGNED else ""}>{text(h)}</th>'
                   for i, h in enumerate(HEADINGS))
    body = []
    for row in recap_rows(executions, limit=None):
        block = f' data-block="{row.block}"' if row.block is not None else ""
        cells = "".join(f'<td{" class=num" if i in RIGHT_ALIGNED else ""}>{text(c)}</td>'
                        for i, c in enumerate(_row_cells(row)))
        body.append(f'<tr data-task="{row.task}"{block} class="{text(row.status)}">{cells}</tr>')
    return (f'<div class="table"><table><thead><tr>{head}</tr></thead>'
            f'<tbody>{"".join(body)}</tbody></table></div>')


def _stream(name: str, value: str, truncated: bool) -> str:
    cut = " (cut: the whole stream was longer)" if truncated else ""
    shown = text(value) if value else "<em>(empty)</em>"
    return f"<h3>{name}{cut}</h3><pre>{shown}</pre>"


def output_section(output: TaskOutput) -> str:
    """One task's command and outputs in a closed `details`."""
    command = f"<p><code>{text(output.command)}</code></p>" if output.command else ""
    return (f'<details data-task="{output.task}"><summary>Task {output.task}'
            f'{": " + text(output.command[:120]) if output.command else ""}</summary>'
            f'{command}{_stream("stdout", output.stdout, output.stdout_truncated)}'
            f'{_stream("stderr", output.stderr, output.stderr_truncated)}</details>')


def status_line(view: RunView) -> str:
    """The run in one sentence: status, exit code, executions, start and duration."""
    started = datetime.fromtimestamp(view.started).astimezone().isoformat(timespec="seconds")
    parts = [view.status.replace("_", " "), f"exit code {view.exit_code}"]
    if view.dry_run:
        parts.append("dry run")
    count = len(view.executions)
    parts += [f"{count} execution{'' if count == 1 else 's'}", f"started {started}",
              f"took {duration_text(max(0.0, view.ended - view.started))}"]
    line = " · ".join(parts)
    return line + (f" — {view.error}" if view.error else "")


def render(view: RunView) -> str:
    """The whole report as one HTML document."""
    name = Path(view.task_file).name
    policy = (f"default-src 'none'; style-src {_csp_hash(STYLE)}; "
              f"script-src {_csp_hash(SCRIPT)}")
    outputs = "\n".join(output_section(o) for o in view.outputs) or "<p>No task ran.</p>"
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="{policy}">
<title>tasker: {text(name)} ({text(view.status)})</title>
<style>{STYLE}</style>
</head>
<body>
<header>
<h1>{text(view.task_file)}</h1>
<p class="status {text(view.status)}" id="status">{text(status_line(view))}</p>
</header>
<section id="timeline"><h2>Timeline</h2>
<div class="timeline">{timeline_svg(view.executions, view.started)}</div>
</section>
<section id="recap"><h2>Recap</h2>
{recap_table(view.executions)}
</section>
<section id="outputs"><h2>Outputs</h2>
{outputs}
</section>
<script>{SCRIPT}</script>
</body>
</html>
"""


def write_html(path: Path, view: RunView) -> None:
    """Write the report to `path` atomically, mode 0600 (undecodable output made `?`)."""
    atomic_write(Path(path), render(view).encode("utf-8", "replace"))
