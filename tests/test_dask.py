"""Sweeps on a real cluster engine: a Dask ``distributed.LocalCluster`` (loopback only) through its
``concurrent.futures`` executor. A worker killed mid-run is replaced, its run resumes from its checkpoint, and the
results equal a single-process run's, byte for byte."""
import functools
import os
import signal
import threading
import time

import pandas as pd
import pytest
from slow_checkpoints import pause_after_checkpoints

from wnlib.experiments import RunConfig, run, sweep
from wnlib.experiments.store import Store

distributed = pytest.importorskip("distributed")

CONFIGS = [RunConfig(width=16, depth=2, epochs=4, n_train=300, seed=s, track=("loss", "rho_min", "gbar_sq"))
           for s in (0, 1)]


@pytest.mark.slow
def test_sweep_on_a_dask_cluster_survives_a_killed_worker(tmp_path):
    out = tmp_path / "dask"
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                                  dashboard_address=None, silence_logs=40) as cluster, \
            distributed.Client(cluster) as client:
        # every worker, the replacement too, pauses after each checkpoint: time to kill one between two
        client.register_worker_callbacks(functools.partial(pause_after_checkpoints, 1.5))
        result = {}
        sweeper = threading.Thread(target=lambda: result.update(
            frame=sweep(CONFIGS, executor=client.get_executor(), out=out, checkpoint_every=1, progress=False)[0]))
        sweeper.start()
        checkpoint = Store(out).run_dir(CONFIGS[0].key) / "checkpoint.pt"
        deadline = time.time() + 120
        while not checkpoint.exists() and time.time() < deadline:
            time.sleep(0.1)
        assert checkpoint.exists(), "no run reached its first checkpoint"
        pids = client.run(os.getpid)
        killed = next(iter(pids.values()))
        os.kill(killed, signal.SIGKILL)  # one worker dies mid-run; the nanny starts a new one
        sweeper.join(timeout=300)
        assert not sweeper.is_alive() and "frame" in result
        assert killed not in client.run(os.getpid).values()
    single = pd.concat([run(c, tmp_path / "single")[0] for c in CONFIGS], ignore_index=True)
    on_dask = result["frame"][single.columns]
    pd.testing.assert_frame_equal(on_dask, single, check_exact=True)
    for c in CONFIGS:
        assert (Store(out).run_dir(c.key) / "history.csv").read_bytes() == \
            (Store(tmp_path / "single").run_dir(c.key) / "history.csv").read_bytes()
