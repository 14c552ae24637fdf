from tools.soak import SoakFigures, markdown, verdict


def figures(**overrides) -> SoakFigures:
    values = dict(seconds=600, clients=16, statuses={"200": 900, "400": 300}, dropped=0, bad_not_4xx=0, p50_ms=20.0,
                  p95_ms=50.0, p99_ms=80.0, rss_mb=[(0, 900.0), (60, 1000.0), (600, 1040.0)], checked=90, wrong=[], variant="fp32")
    return SoakFigures(**(values | overrides))


def test_growth_is_measured_from_minute_one():
    assert figures().rss_growth == 1040 / 1000 - 1  # the start (900) is warm-up


def test_a_clean_soak_passes_and_its_table_shows_the_figures():
    text = markdown(figures(), "header")
    assert "**Verdict: pass**" in text and "| 200 | 900 |" in text and "| 400 | 300 |" in text and "4.0%" in text
    assert "served fp32 model" in text and "exact to 1e-4" in text


def test_each_missed_goal_is_named_in_the_verdict():
    bad = figures(statuses={"200": 5, "500": 2}, wrong=["'x': served a, in-process b"], rss_mb=[(60, 1000.0), (600, 1100.0)])
    line = verdict(bad)
    assert line.startswith("**Verdict: fail**")
    assert "2 5xx" in line and "1 wrong answers" in line and "RSS grew 10.0%" in line
