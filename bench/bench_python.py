"""bench_python — the Python module's speed against DuckDB's own, in C.

A deterministic DataFrame of ROWS rows (default 1,000,000) and 5 columns:
id int64 (ascending), name str ("user_012345", one in eight
"user_012345@example.org", from 200,000 users), score float64 (random),
active bool, ts datetime64[ns] (random instants of 2026, in whole
microseconds: UDR stores them as TIMESTAMP, and they read back as
datetime64[ns]; finer ones would be TIMESTAMP_NS, read back as text, see
docs/python.md). Timed, with `sync` before each run:

  write  QueryEngine.write_table("t", df) into a fresh repository each run
         (chunked, hashed, fsynced and committed, as UDR always writes)
  read   QueryEngine.query("SELECT * FROM t").to_pandas() of the last
         one, which must equal df (pandas.testing.assert_frame_equal,
         exactly: every dtype here comes back as it went in, docs/python.md)

against bench_python_base (C, DuckDB alone) writing the same columns from
memory as one zstd Parquet file (fsynced) and reading it back into C arrays.

Each of the four (UDR write, DuckDB write, UDR read, DuckDB read) runs in a
process of its own that loads what it needs, then does one timed run per
request, so each peak memory (ru_maxrss) is of one step and "before" is
the process's resident memory when its first run began (the DataFrame or
the arrays to write are in it). This process imports neither pandas nor
udr. The two sides alternate, RUNS rounds (default 9), the first in each
round switching: times are the best; a ratio is the median of the rounds'
own ratios (UDR / DuckDB), each taken within one round, so both sides saw
the same machine (less at the mercy of other work on it than single times).

Then, in the UDR processes after their rounds, where the time goes (best of
5 each): udr.frame_of(df) (the DataFrame to column arrays) and the
extension's write of that frame; the query alone, Result.arrays() (the
result to NumPy arrays and str objects) and udr.dataframe_of (the arrays
to a DataFrame).

Prints "key value" lines that bench/run.sh turns into bench/RESULTS.md. If
the DataFrame read back differs, the figures are printed all the same,
with read_differs naming the columns that differ, and the exit status is 1.
Usage: PYTHONPATH=BUILD/python /usr/bin/python3 bench_python.py DIR BASE_BINARY [ROWS] [RUNS]
"""
import os
import shutil
import subprocess
import sys
import time


def make_frame(rows):
    """The benchmark's DataFrame: the same in every process."""
    import numpy as np
    import pandas as pd
    rng = np.random.default_rng(20260101)
    user = rng.integers(0, 200_000, rows).tolist()
    plain = (rng.integers(0, 8, rows) != 0).tolist()
    names = [f"user_{u:06d}" if p else f"user_{u:06d}@example.org" for u, p in zip(user, plain)]
    start = np.datetime64("2026-01-01T00:00:00", "ns")
    return pd.DataFrame({
        "id": np.arange(rows, dtype=np.int64),
        "name": np.array(names, dtype=object),
        "score": rng.random(rows) * 1000.0,
        "active": rng.random(rows) < 0.5,
        "ts": start + (rng.integers(0, 365 * 86400 * 10**6, rows) * 1000).astype("timedelta64[ns]"),
    })


def rss_kb():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def peak_rss_kb():
    import resource
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def engine_at(path):
    import udr
    from udr_query import QueryEngine
    return QueryEngine(udr.PyChunkStore(path), udr.PyCatalog(path))


def timed(fn):
    """fn()'s result and its seconds, after a sync."""
    os.sync()
    t0 = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t0


def best_median(times):
    return min(times), sorted(times)[len(times) // 2]


# ---- the UDR side: processes of their own, driven through stdin --------------

def serve(run):
    """Says "ready", then does run() once per "run" line on stdin, printing
    "t SECONDS"; returns the seconds of each at the end of the input."""
    print("ready", flush=True)
    times = []
    for line in sys.stdin:
        if line.strip() == "run":
            times.append(run())
            print("t %.6f" % times[-1], flush=True)
    if not times:
        raise SystemExit("bench_python: no runs asked for")
    return times


def step_dump(out, rows):
    """The DataFrame's columns as raw files for bench_python_base."""
    import numpy as np
    df = make_frame(rows)
    os.makedirs(out, exist_ok=True)
    df["id"].to_numpy().tofile(os.path.join(out, "id.bin"))
    df["score"].to_numpy().tofile(os.path.join(out, "score.bin"))
    df["active"].to_numpy().astype(np.bool_).tofile(os.path.join(out, "active.bin"))
    (df["ts"].to_numpy().view(np.int64) // 1000).tofile(os.path.join(out, "ts.bin"))  # µs
    with open(os.path.join(out, "name.txt"), "wb") as f:
        f.write("\n".join(df["name"]).encode())
    return {}


def step_write(out, rows):
    """Writes of the DataFrame, each into a fresh repository; the last
    stays (out/repo) for the reads."""
    import udr
    df = make_frame(rows)
    before = rss_kb()
    repos = []

    def run():
        path = os.path.join(out, f"repo-{len(repos)}")
        shutil.rmtree(path, ignore_errors=True)
        engine = engine_at(path)
        _, t = timed(lambda: engine.write_table("t", df))
        engine = None                   # closes the repository
        if repos:
            shutil.rmtree(repos[-1])
        repos.append(path)
        return t

    times = serve(run)
    peak = peak_rss_kb()
    final = os.path.join(out, "repo")
    shutil.rmtree(final, ignore_errors=True)
    os.rename(repos[-1], final)
    objects = sum(os.path.getsize(os.path.join(d, f))
                  for d, _, fs in os.walk(os.path.join(final, "objects")) for f in fs)
    # Where the time goes: the DataFrame to arrays, then the extension's write.
    frame_s, c_s = [], []
    for i in range(min(len(times), 5)):
        path = os.path.join(out, f"repo-split-{i}")
        shutil.rmtree(path, ignore_errors=True)
        engine = engine_at(path)
        repo = udr._repo_of(engine.store)
        frame, t = timed(lambda: udr.frame_of(df))
        frame_s.append(t)
        _, t = timed(lambda: repo.write("t", frame))
        c_s.append(t)
        engine = repo = frame = None
        shutil.rmtree(path)
    best, median = best_median(times)
    return {"write_best_s": best, "write_median_s": median, "write_rss_before_kb": before,
            "write_peak_rss_kb": peak, "write_objects_bytes": objects,
            "write_frame_of_s": min(frame_s), "write_ext_s": min(c_s)}


def step_read(out, rows):
    """Reads of out/repo's table t into DataFrames; the last is checked."""
    import pandas as pd
    import udr
    engine = engine_at(os.path.join(out, "repo"))
    before = rss_kb()
    got = None

    def run():
        nonlocal got
        got = None                      # the last run's DataFrame goes, untimed
        got, t = timed(lambda: engine.query("SELECT * FROM t").to_pandas())
        return t

    times = serve(run)
    peak = peak_rss_kb()
    want = make_frame(rows)
    differs = []
    try:
        pd.testing.assert_frame_equal(got, want, check_exact=True)
    except AssertionError:
        differs = [c for c in want.columns if c not in got.columns
                   or not got[c].reset_index(drop=True).equals(want[c])] or ["index/columns"]
    del got, want
    # Where the time goes: the query, the result to arrays, the DataFrame.
    repo = udr._repo_of(engine.store)
    query_s, arrays_s, df_s = [], [], []
    for _ in range(min(len(times), 5)):
        res, t = timed(lambda: repo.query("SELECT * FROM t", None))
        query_s.append(t)
        arrays, t = timed(lambda: res.arrays())
        arrays_s.append(t)
        df_s.append(timed(lambda: udr.dataframe_of(*arrays))[1])
        res = arrays = None
    best, median = best_median(times)
    figs = {"read_best_s": best, "read_median_s": median, "read_rss_before_kb": before,
            "read_peak_rss_kb": peak, "read_rows": rows, "read_query_s": min(query_s),
            "read_arrays_s": min(arrays_s), "read_dataframe_of_s": min(df_s)}
    if differs:
        figs["read_differs"] = ",".join(differs)
    return figs


STEPS = {"dump": step_dump, "write": step_write, "read": step_read}


def step_main(argv):
    step, out, rows = argv[2], argv[3], int(argv[4])
    for k, v in STEPS[step](out, rows).items():
        print(k, "%.4f" % v if isinstance(v, float) else v)
    return 0


# ---- this process: the rounds --------------------------------------------------

class Worker:
    """A process that does one timed run per request (see serve())."""

    def __init__(self, cmd):
        self.p = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        if self.p.stdout.readline().strip() != "ready":
            raise SystemExit(f"bench_python: {cmd[0]} did not start")

    def run(self):
        self.p.stdin.write("run\n")
        self.p.stdin.flush()
        line = self.p.stdout.readline().split()
        if len(line) != 2 or line[0] != "t":
            raise SystemExit("bench_python: a run failed")
        return float(line[1])

    def finish(self):
        """Its closing "key value" lines, as a dict."""
        self.p.stdin.close()
        lines = self.p.stdout.read().splitlines()
        if self.p.wait() != 0:
            raise SystemExit("bench_python: a worker failed")
        return dict(line.split(None, 1) for line in lines if line.strip())


def rounds(udr_cmd, base_cmd, runs):
    """runs rounds of one UDR run and one DuckDB run, alternating which goes
    first; both workers' figures and the median of the per-round ratios."""
    ours, theirs = Worker(udr_cmd), Worker(base_cmd)
    ratios = []
    for i in range(runs):
        if i % 2 == 0:
            a = ours.run()
            b = theirs.run()
        else:
            b = theirs.run()
            a = ours.run()
        ratios.append(a / b)
    figs = ours.finish()
    figs.update(theirs.finish())
    return figs, sorted(ratios)[len(ratios) // 2]


def main(argv):
    if len(argv) >= 2 and argv[1] == "--step":
        return step_main(argv)
    if len(argv) < 3:
        print(__doc__.strip().splitlines()[-1], file=sys.stderr)
        return 2
    out, binary = argv[1], argv[2]
    rows = int(argv[3]) if len(argv) > 3 else 1_000_000
    runs = int(argv[4]) if len(argv) > 4 else 9
    raw = os.path.join(out, "raw")
    shutil.rmtree(out, ignore_errors=True)
    os.makedirs(raw)
    me = [sys.executable, os.path.abspath(__file__), "--step"]
    subprocess.run(me + ["dump", raw, str(rows)], check=True, stdout=subprocess.DEVNULL)
    figs = {"rows": rows, "runs": runs}
    for step in ("write", "read"):
        f, ratio = rounds(me + [step, out, str(rows)], [binary, step, raw], runs)
        figs.update(f)
        figs[f"{step}_ratio"] = "%.2f" % ratio
        figs[f"{step}_ratio_best"] = "%.2f" % (float(f[f"{step}_best_s"]) /
                                               float(f[f"base_{step}_best_s"]))
    differs = figs.get("read_differs")
    for k, v in figs.items():
        print(k, v)
    shutil.rmtree(out)
    if differs:
        print("bench_python: the DataFrame read back differs from the one written, in: "
              + differs, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
