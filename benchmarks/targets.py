"""The PASS/FAIL targets the report ends with (benchmarks/README.md, *Targets*).

They were set by the issue that asked for this benchmark and are written down in benchmarks/README.md;
the exact ones (requests the minimum, rows equal to the sandbox's, one import per 1000 rows) need no number.
"""

# The performance issue: "1,000,000 subscribers into DuckDB: ≤ 1.5× the floor" (was 2× when the floor
# was measured against the uncached sandbox).
LOAD_VS_FLOOR = 1.5
# Issue 27: "peak RSS ≤ 350 MB" through the plain call (the performance issue's 300 MB was measured
# through the command's settings).
PEAK_RSS_MB = 350.0
# The performance issue: "memory at 1M ≤ 1.3× memory at 100k" (was 1.5×).
MEMORY_GROWTH = 1.3
# README Targets, "reading concurrently ≥ 3× faster than sequentially at 50 ms latency" (the benchmark's issue).
LATENCY_SPEEDUP = 3.0
# README Targets, "≥ 80% of the allowed rate": the "close to the allowed rate".
RATE_SHARE = 0.8
# README Targets, "429s ≤ 10% of requests": the "no storm of 429s".
MAX_429_SHARE = 0.10
# README Targets, "the local work adding ≤ 25% to the calls' time": the issue's "well under the time of the calls".
WRITE_OVERHEAD = 0.25
# The reconcile issue: with reconcile_runs=7 "an incremental run after 1% activity costs ≤ 1/7 of a full
# read's requests plus the changes, and its time ≤ 20% of a full run's" (it replaced the incremental-sync
# issue's 5% and 10%, which held for the changes alone).
RECONCILE_RUNS = 7
INCREMENTAL_WALL = 0.20
# The performance issue: "report fan-out, 1,000 sent campaigns: ≤ 1.5× a floor that fetches the same
# requests with the same number in flight".
FAN_OUT_VS_FLOOR = 1.5
# The performance issue: "the fan-out over 10,000 campaigns peaks at ≤ 1.3× the memory of 1,000 and ≤ 400 MB".
FAN_OUT_RSS_MB = 400.0
# Issue 38: "reports of an account with realistic counts: requests ≤ 1.05 times the least that reads every row".
REPORT_REQUESTS_VS_LEAST = 1.05
# Issue 38: "CPU of the whole process, start to exit: ≤ 0.75 ms per report request, and ≤ 6 µs per subscriber row".
CPU_PER_REPORT_REQUEST_MS = 0.75
CPU_PER_SUBSCRIBER_ROW_US = 6.0
FAN_OUT_MEMORY_GROWTH = 1.3
# Issue 27, "fast where users run it": the command may match the plain call, never beat it; timings on
# this machine wander by a few percent, so it fails only when the command is more than this much faster.
COMMAND_LEAD = 0.05
# Issue 27, wan: ≤ 1.3× requests × latency ÷ max_concurrent_requests + the run's start-up.
WAN_VS_BOUND = 1.3
# Issue 27, window: zero 429s, and wall ≤ 1.15× answered requests ÷ the window's rate.
WINDOW_VS_BOUND = 1.15
WINDOW_429S = 0
# Issue 27, shared: two runs at once on one key, against one window: ≤ 1% of all requests refused.
SHARED_429_SHARE = 0.01
