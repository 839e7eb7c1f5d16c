import { describe, expect, it } from "vitest";
import { datasetColumns, describeSource, latestMetrics } from "./registry";

describe("MLflow dataset sources", () => {
  it("reads delta tables, uris, urls and code sources", () => {
    expect(describeSource('{"path": "/d", "delta_table_name": "sales", "delta_table_version": 3}', "delta_table")).toBe("delta table sales@v3");
    expect(describeSource('{"uri": "s3://bucket/x.parquet"}', "s3")).toBe("uri s3://bucket/x.parquet");
    expect(describeSource('{"url": "https://e.org/a.csv"}', "http")).toBe("url https://e.org/a.csv");
    expect(describeSource('{"tags": {"mlflow.source.name": "train.py"}}', "code")).toBe(
      "in-memory data (a pandas DataFrame or NumPy array), logged by train.py",
    );
    expect(describeSource("plain/path.csv")).toBe("plain/path.csv");
  });
});

describe("logged model metrics", () => {
  it("keeps the latest point of each key", () => {
    const m = latestMetrics([
      { key: "acc", value: 0.5, step: 0, timestamp: 1 },
      { key: "acc", value: 0.9, step: 1, timestamp: 2 },
      { key: "f1", value: 0.7, step: 0, timestamp: 1 },
    ]);
    expect([m.acc.value, m.f1.value]).toEqual([0.9, 0.7]);
  });
});

describe("dataset columns", () => {
  it("reads MLflow's colspec as well as modelyard's schema", () => {
    expect(datasetColumns([{ mlflow_colspec: [{ type: "double", name: "a", required: true }, { type: "long", name: "y" }] }])).toEqual([
      { name: "a", type: "double" },
      { name: "y", type: "long" },
    ]);
    expect(datasetColumns([{ name: "f0", type: "double", nullable: false }])).toEqual([{ name: "f0", type: "double" }]);
  });
});
