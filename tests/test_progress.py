"""Progress reports: a line every few percent when stderr is not a terminal."""
import io

from tqdm import tqdm

from strokeparam.progress import LOG_PERCENT, LineProgress, progress


class Terminal(io.StringIO):
    def isatty(self):
        return True


def test_a_log_gets_a_line_every_few_percent_not_one_per_step():
    log = io.StringIO()
    bar = progress(total=1000, desc="train", unit="step", stream=log)
    assert isinstance(bar, LineProgress)
    for step in range(1000):
        bar.update()
        bar.set_postfix(loss=f"{step:.1f}")
    bar.close()
    lines = log.getvalue().splitlines()
    assert len(lines) == 100 // LOG_PERCENT + 1                 # 0%, 5%, ..., 95% and the last
    assert lines[-1].startswith("train: 100% (1000/1000 step)") and lines[-1].endswith("loss=999.0")


def test_iterating_reports_and_a_terminal_gets_tqdm():
    log = io.StringIO()
    assert list(progress(range(3), desc="x", stream=log)) == [0, 1, 2]
    assert log.getvalue().splitlines()[-1].startswith("x: 100% (3/3 it)")
    assert isinstance(progress(range(3), stream=Terminal()), tqdm)
    quiet = io.StringIO()
    list(progress(range(3), disable=True, stream=quiet))
    assert quiet.getvalue() == ""
