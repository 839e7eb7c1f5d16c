"""Batch scoring: a Parquet or CSV file of any size through a model, chunk by chunk.

Each chunk passes the same signature check as a request to `modelyard serve`; the output is
written as it goes to a temporary file renamed into place at the end, so a failed run leaves
no half-written output. Memory holds one chunk, whatever the file's size.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from modelyard.errors import InvalidInput
from modelyard.serving.predictor import Predictor
from modelyard.serving.requests import Decoded

Progress = Callable[[int, int], None]  # (units done, units in all): rows, or bytes for CSV
FORMATS = (".parquet", ".csv")


def score_file(
    predictor: Predictor,
    source: Path,
    target: Path,
    *,
    keep: Sequence[str] = (),
    chunk_rows: int = 50_000,
    progress: Progress = lambda done, total: None,
) -> int:
    """Score every row of ``source`` into ``target`` (a ``prediction`` column, or one column
    per field of dict outputs, after the ``keep`` columns copied from the input); the rows."""
    import pyarrow as pa

    for path, what in ((source, "input"), (target, "output")):
        if path.suffix.lower() not in FORMATS:
            raise InvalidInput(f"the {what} must be a .parquet or .csv file, not {path.name}")
    if not source.is_file():
        raise InvalidInput(f"no input file {source}")
    partial = target.with_name(f".{target.name}.part")
    writer: Any = None
    rows = 0
    try:
        for batch, done, total in _chunks(source, chunk_rows):
            frame = batch.to_pandas()
            missing = [c for c in keep if c not in frame.columns]
            if missing:
                raise InvalidInput(f"--keep names no input column {missing[0]!r}", field=missing[0])
            inputs = frame.drop(columns=[c for c in keep if c not in predictor.schema.names])
            part = predictor.schema.check(Decoded([str(c) for c in inputs.columns], frame=inputs))
            out = _columns(predictor.predict([part]))
            table = pa.Table.from_pandas(frame[list(keep)], preserve_index=False).select(list(keep))
            for name, values in out.items():
                table = table.append_column(name, pa.array(values))
            if writer is None:
                writer = _writer(partial, table.schema)
            elif table.schema != writer.schema:  # a CSV chunk typed otherwise (e.g. ints)
                table = table.cast(writer.schema)
            writer.write_table(table)
            rows += len(frame)
            progress(done, total)
        if writer is None:  # an empty input still makes a (header-only) output
            writer = _writer(partial, pa.schema([("prediction", pa.null())]))
        writer.close()
        writer = None
        os.replace(partial, target)
    finally:
        if writer is not None:
            writer.close()
        partial.unlink(missing_ok=True)
    return rows


def _chunks(source: Path, chunk_rows: int) -> Iterator[tuple[Any, int, int]]:
    """(record batch, progress done, progress total): rows for Parquet, bytes for CSV."""
    if source.suffix.lower() == ".parquet":
        import pyarrow.parquet as pq

        file = pq.ParquetFile(source)
        total = file.metadata.num_rows
        done = 0
        for batch in file.iter_batches(batch_size=chunk_rows):
            done += batch.num_rows
            yield batch, done, total
        return
    import pyarrow as pa
    import pyarrow.csv as pcsv

    size = source.stat().st_size
    with source.open("rb") as raw:
        try:
            reader = pcsv.open_csv(raw, read_options=pcsv.ReadOptions(block_size=8 << 20))
            for batch in reader:
                yield batch, min(raw.tell(), size), size
        except pa.ArrowInvalid as exc:
            raise InvalidInput(f"{source.name} does not parse as CSV: {exc}") from exc


def _columns(outputs: list[Any]) -> dict[str, list[Any]]:
    """Model outputs as columns: dict rows become one column each, anything else ``prediction``."""
    if outputs and all(isinstance(o, dict) for o in outputs):
        names = list(dict.fromkeys(k for o in outputs for k in o))
        return {str(n): [o.get(n) for o in outputs] for n in names}
    return {"prediction": outputs}


def _writer(path: Path, schema: Any) -> Any:
    if path.name.removesuffix(".part").lower().endswith(".csv"):
        import pyarrow.csv as pcsv

        return pcsv.CSVWriter(str(path), schema)
    import pyarrow.parquet as pq

    return pq.ParquetWriter(str(path), schema, compression="zstd")
