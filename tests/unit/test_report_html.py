"""The HTML run report's builder: escaping, one bar per execution, grouping, self-containment."""

from __future__ import annotations

import base64
import hashlib
import re
import stat
from pathlib import Path
from typing import List, Optional

from hypothesis import given, settings, strategies as st

from tasker.report.executions import Execution, RunView, TaskOutput, run_view
from tasker.report.html_report import SCRIPT, STYLE, lanes, render, write_html
from tasker.report.masking import Masker
from tasker.results import RunRecord, TaskResult, TraceEntry

HOSTILE = ('</pre><script>alert(1)</script><img src=x onerror="alert(2)">'
           "\x1b[31m & ' \" <!-- ]]>")


def ex(task: int, status: str = "success", *, block: Optional[int] = None, host: str = "h",
       start: float = 1000.0, seconds: float = 1.0, attempt: int = 1) -> Execution:
    return Execution(task=task, block=block, iteration=None, attempt=attempt, host=host,
                     status=status, exit_code=0 if status == "success" else 1, start=start,
                     end=start + seconds)


def view(executions: List[Execution], outputs: tuple = (), **kw) -> RunView:
    values = dict(task_file="/w/work.txt", status="failed", exit_code=1, dry_run=False,
                  started=999.0, ended=1010.0, executions=tuple(executions), outputs=outputs)
    values.update(kw)
    return RunView(**values)


def bars(page: str) -> List[str]:
    return re.findall(r'<rect class="bar [a-z]+" data-task="(\d+)"', page)


def test_every_execution_has_one_bar_with_a_title_of_its_times() -> None:
    runs = [ex(1, start=1000), ex(2, "failed", start=1001), ex(2, start=1002, attempt=2),
            ex(10, block=3, start=1003), ex(3, start=1003), ex(4, "skipped", seconds=0)]
    page = render(view(runs))
    assert sorted(bars(page)) == ["1", "10", "2", "2", "3", "4"]
    titles = re.findall(r"<title>([^<]*)</title>", page)[1:]  # (the page's own title first)
    assert len(titles) == 6 and all(" to " in t for t in titles)
    assert "attempt 2" in titles[2]
    assert '<rect class="bar failed"' in page and '<rect class="bar skipped"' in page


def test_sub_tasks_are_grouped_under_their_block_by_host() -> None:
    runs = [ex(0, start=1), ex(22, block=5, host="web2", start=2),
            ex(21, block=5, host="web1", start=3), ex(23, block=5, host="db", start=4),
            ex(5, host="", start=2), ex(6, start=9)]
    got = [(lane.label, lane.block) for lane in lanes(runs)]
    assert got == [("0", None), ("5", None), ("5-23 db", 5), ("5-21 web1", 5),
                   ("5-22 web2", 5), ("6", None)]


def test_a_block_interrupted_before_its_result_still_heads_its_group() -> None:
    got = [(lane.label, len(lane.executions)) for lane in lanes([ex(11, block=1)])]
    assert got == [("1", 0), ("1-11 h", 1)]


def test_recap_rows_carry_their_task_and_every_sub_task_is_listed() -> None:
    runs = [ex(100 + n, block=2, start=n) for n in range(60)] + [ex(2, start=70)]
    page = render(view(runs))
    rows = re.findall(r'<tr data-task="(\d+)"( data-block="\d+")?', page)
    assert len(rows) == 61 and rows[0] == ("2", "")
    assert rows[1] == ("100", ' data-block="2"')


def test_a_partial_block_is_marked_in_place_and_its_failed_sub_tasks_come_last() -> None:
    runs = [ex(10, block=0, start=1), ex(11, "failed", block=0, start=2),
            ex(12, block=0, start=3), ex(0, "failed", host="", start=1), ex(1, start=5)]
    page = render(view(runs))
    rows = re.findall(r'<tr data-task="(\d+)"[^>]* class="([a-z]+)"><td>[^<]*</td><td>'
                      r'[^<]*</td><td>([^<]*)</td>', page)
    assert rows == [("0", "partial", "partial(2/3)"), ("10", "success", "success"),
                    ("12", "success", "success"), ("1", "success", "success"),
                    ("11", "failed", "failed")]
    assert ".skipped,.partial{color:var(--skip)}" in page


def test_a_task_that_ended_the_run_untraced_has_a_failed_row_and_bar() -> None:
    record_ = RunRecord()
    record_.trace.append(TraceEntry(task=0, exit_code=0, success=True, start_time=1000.0,
                                    duration=1.0, status="success"))
    record_.failure = {"task_id": 1, "exit_code": 20, "error": "program 'x' was not found"}
    page = render(run_view(record_, Masker(), task_file="/w/f.txt", status="failed",
                           exit_code=20, dry_run=False, started=999.0, ended=1002.0))
    assert '<tr data-task="1" class="failed"><td>1</td><td>-</td><td>failed</td>' \
        '<td class=num>-</td>' in page
    assert sorted(bars(page)) == ["0", "1"]


def test_hostile_outputs_hosts_and_commands_are_text() -> None:
    outputs = (TaskOutput(task=1, command=HOSTILE, stdout=HOSTILE, stderr=HOSTILE),)
    page = render(view([ex(1, host=HOSTILE)], outputs, task_file=f"/w/{HOSTILE}",
                       error=HOSTILE))
    assert "<script>alert" not in page and "<img" not in page and "<!-- ]]>" not in page
    assert "\x1b" not in page and "\\x1b[31m" in page
    assert page.count("&lt;/pre&gt;&lt;script&gt;alert(1)&lt;/script&gt;") >= 5
    assert len(re.findall(r"<script>", page)) == 1


@settings(max_examples=100, deadline=None)
@given(st.text(max_size=60))
def test_no_text_from_the_run_makes_markup(value: str) -> None:
    outputs = (TaskOutput(task=1, command=value, stdout=value, stderr=value),)
    page = render(view([ex(1, host=value)], outputs, error=value))
    assert page.count("<script>") == 1 and page.count("<details") == 1
    assert page.count("<pre>") == 2 and page.count("<tr") == 2  # heading + one row


def test_the_page_loads_nothing_and_allows_only_its_own_style_and_script() -> None:
    page = render(view([ex(1)]))
    assert not re.search(r"\b(src|href)=", page)
    assert re.findall(r"https?://[^\"' ]+", page) == ["http://www.w3.org/2000/svg"]
    policy = re.search(r'http-equiv="Content-Security-Policy" content="([^"]+)"', page).group(1)

    def digest(text: str) -> str:
        return base64.b64encode(hashlib.sha256(text.encode()).digest()).decode()

    assert policy == (f"default-src 'none'; style-src 'sha256-{digest(STYLE)}'; "
                      f"script-src 'sha256-{digest(SCRIPT)}'")
    assert f"<style>{STYLE}</style>" in page and f"<script>{SCRIPT}</script>" in page


def test_phone_and_print() -> None:
    page = render(view([ex(1)]))
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in page
    assert "@media print" in STYLE and "details::details-content" in STYLE
    assert "beforeprint" in SCRIPT and "d.open=true" in SCRIPT
    assert '<div class="table">' in page and ".table{overflow-x:auto}" in STYLE


def test_the_status_line_says_how_the_run_ended() -> None:
    page = render(view([ex(1), ex(2)], status="interrupted", exit_code=143,
                       error="interrupted by signal 15"))
    line = re.search(r'<p class="status interrupted" id="status">([^<]*)</p>', page).group(1)
    assert line.startswith("interrupted · exit code 143 · 2 executions · started ")
    assert line.endswith(" — interrupted by signal 15")


def test_outputs_are_collapsed_and_masked_from_the_record(tmp_path: Path) -> None:
    record = RunRecord()
    record.store(TaskResult(1, 0, stdout="token=hunter22\n", stderr="", success=True,
                            status="success", hostname="host-hunter22", command="echo hunter22",
                            start_time=5.0, duration=1.0))
    record.store(TaskResult(7, 0, stdout="restored, did not run now", status="success"))
    record.trace.append(TraceEntry(task=1, hostname="host-hunter22", exit_code=0,
                                   success=True, start_time=5.0, duration=1.0,
                                   status="success"))
    built = run_view(record, Masker(("hunter22",)), task_file="/w/f.txt", status="success",
                     exit_code=0, dry_run=False, started=4.0, ended=7.0)
    path = tmp_path / "sub" / "report.html"
    write_html(path, built)
    page = path.read_text()
    assert "hunter22" not in page and "token=****" in page and "host-****" in page
    assert '<details data-task="1">' in page and "<details open" not in page
    assert "restored, did not run now" not in page
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_undecodable_output_is_written_anyway(tmp_path: Path) -> None:
    outputs = (TaskOutput(task=1, command="", stdout="bad \udcff byte", stderr=""),)
    write_html(tmp_path / "r.html", view([ex(1)], outputs))
    assert "bad ? byte" in (tmp_path / "r.html").read_text()
