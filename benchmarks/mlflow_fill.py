"""Fill an MLflow SQLite store with N runs like benchmarks/ui.py's (run with MLflow's Python).

One run goes through MLflow's own store API; its rows, in every table keyed by run_uuid, are
then copied for the other runs with new ids, names, times and values. (The store API takes
~40 ms a run: 7 minutes for 10,000.) Prints the experiment id.

    python mlflow_fill.py PATH/mlflow.db ARTIFACT_ROOT RUNS
"""

import random
import sqlite3
import sys
import uuid

from mlflow.entities import Metric, Param, RunStatus
from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore


def main() -> None:
    path, artifacts, runs = sys.argv[1], sys.argv[2], int(sys.argv[3])
    store = SqlAlchemyStore(f"sqlite:///{path}", artifacts)
    exp = store.create_experiment("ui-bench")
    template = store.create_run(exp, "bench", 1_700_000_000_000, [], "run-00000").info.run_id
    metrics = [Metric(f"m{k}", 0.5, 1_700_000_000_000 + s, s) for k in range(10) for s in range(10)]
    store.log_batch(template, metrics, [Param(f"p{j:02d}", "0.1") for j in range(20)], [])
    store.update_run_info(template, RunStatus.FINISHED, 1_700_000_100_000, None)
    store.engine.dispose()
    rng = random.Random(7)
    db = sqlite3.connect(path)
    tables = [
        t
        for (t,) in db.execute("select name from sqlite_master where type='table'")
        if "run_uuid" in [c[1] for c in db.execute(f"pragma table_info('{t}')")]
    ]
    for table in tables:
        cols = [c[1] for c in db.execute(f"pragma table_info('{table}')")]
        rows = db.execute(f"select * from '{table}' where run_uuid = ?", (template,)).fetchall()
        out = []
        for i in range(1, runs):
            rid, name = uuid.uuid5(uuid.NAMESPACE_OID, str(i)).hex, f"run-{i:05d}"
            for row in rows:
                r = dict(zip(cols, row, strict=True))
                r["run_uuid"] = rid
                if table == "runs":
                    r["name"] = name
                    r["start_time"] = 1_700_000_000_000 + i
                    r["end_time"] = 1_700_000_100_000 + i
                    r["artifact_uri"] = str(r["artifact_uri"]).replace(template, rid)
                elif table == "tags" and r["key"] == "mlflow.runName":
                    r["value"] = name
                elif table == "params":
                    r["value"] = str(rng.choice([0.001, 0.01, 0.1, 1, 10]))
                elif table in ("metrics", "latest_metrics"):
                    r["value"] = rng.random()
                out.append(tuple(r[c] for c in cols))
        db.executemany(f"insert into '{table}' values ({','.join('?' * len(cols))})", out)
    db.commit()
    print(exp)


if __name__ == "__main__":
    main()
