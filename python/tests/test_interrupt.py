"""Ctrl-C during a fit: the search stops, KeyboardInterrupt reaches the caller, and the store
stays readable by the CLI."""

import signal
import subprocess
import sys
import textwrap
import time

SCRIPT = textwrap.dedent(
    """
    import signal
    import sys
    import pandas as pd
    from automl import AutoML

    # Python leaves SIGINT alone when its parent started it ignored (a job started in the
    # background by a non-interactive shell, as CI may be): restore the handler a terminal or
    # a notebook has, which is what this test is about.
    signal.signal(signal.SIGINT, signal.default_int_handler)

    df = pd.read_csv(sys.argv[1])
    m = AutoML(time_budget=600, store=sys.argv[2], jobs=1)
    print("fitting", flush=True)
    try:
        m.fit(df, "churned")
    except KeyboardInterrupt:
        fitted = hasattr(m, "classes_")
        print("KeyboardInterrupt", "fitted" if fitted else "unfitted", flush=True)
        if fitted:
            assert m.interrupted_
            assert len(m.predict(df.drop(columns=["churned"]))) == len(df)
        sys.exit(3)
    print("finished without interrupt", flush=True)
    """
)


def test_ctrl_c_stops_the_search_cleanly(data_dir, automl_bin, tmp_path):
    store = tmp_path / "store"
    proc = subprocess.Popen(
        [sys.executable, "-c", SCRIPT, str(data_dir / "churn.csv"), str(store)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout.readline().strip() == "fitting"
        # Let a few trials finish (the budget is 10 minutes: only Ctrl-C ends this fit early).
        time.sleep(3)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 3, f"stdout: {out}\nstderr: {err}"
    assert out.startswith("KeyboardInterrupt"), out
    # The store is consistent: the CLI lists the interrupted study and its trials.
    board = subprocess.run(
        [automl_bin, "leaderboard", "--store", str(store), "--format", "json"],
        capture_output=True,
        text=True,
    )
    assert board.returncode == 0, board.stderr
    assert board.stdout.strip().startswith("[")
