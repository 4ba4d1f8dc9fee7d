"""The query that tells a trigger's old data from live data (adapters/prometheus.stopped_query)."""

from cockpit.adapters.prometheus import stopped_query

P95 = 'histogram_quantile(0.95, sum by (le) (rate(http_request_duration_seconds_bucket{app="api",track="canary"}[5m]))) * 1000'


def test_a_selector_is_judged_by_its_targets_and_when_unlabelled_by_its_series():
    """Over 15 minutes: once a dead target's series fall out of the window, `... or vector(0)` would
    read 0 again while the target is still down."""
    q = stopped_query(P95)
    seen = 'last_over_time(http_request_duration_seconds_bucket{app="api",track="canary"}[900s])'
    bare = 'http_request_duration_seconds_bucket{app="api",track="canary",instance=""}'
    assert q == (f"(count({seen} and on(job, instance) (up == 0)) unless count({seen} and on(job, instance) (up == 1)))"
                 f" or (count(last_over_time({bare}[900s])) unless count({bare}))")


def test_every_selector_once_over_fifteen_minutes_or_three_of_the_longest_range():
    q = stopped_query('sum(rate(reqs{code=~"5.."}[5m])) / sum(rate(reqs[10m])) + sum(rate(reqs[10m]))')
    # three of the longest range (10m) when that is more than 15 minutes
    assert q.count('last_over_time(reqs{code=~"5.."}[1800s])') == 2 and q.count("last_over_time(reqs{}[1800s])") == 2
    assert 'reqs{instance=""}' in q and 'reqs{code=~"5..",instance=""}' in q
    assert stopped_query("max_over_time(rate(x[1m])[30m:1m])").count("[5400s]") == 3  # a subquery's range counts


def test_what_looks_back_on_purpose_or_names_its_instance_is_not_asked():
    assert stopped_query("rate(x[5m] offset 1h)") is None
    assert stopped_query("rate(x[5m] @ 1700000000)") is None
    assert stopped_query("vector(0)") is None
    assert stopped_query("this is not promql (") is None
    q = stopped_query('up{instance="10.0.0.1:9090"}')
    assert "unless count(last_over_time" in q and 'instance=""' not in q  # only the targets' branch
