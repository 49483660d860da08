"""The Spark job of the ``spark`` and ``spark-batch`` sessionizers, in a process of its own.

``python -m sessionizer.spark_job JOB.json`` runs one job as ``JOB.json`` says (mode
``stream`` or ``batch``, the master, the gap and lateness in ms, the directories) and writes
Spark's count of rows dropped behind its watermark to the job's ``result`` file. The
sessionizer starts it as a child in its own process group (with PySpark's JVM under it),
so a stop, an error or a killed parent ends Spark whole: nothing of a half-started
SparkSession is left to the parent's interpreter.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

__all__ = ["main"]

SCHEMA = "arrival BIGINT, user_id STRING, ts BIGINT"


def _session(job: dict[str, Any]) -> Any:
    from pyspark.sql import SparkSession

    quiet = f"-Dlog4j.configurationFile={job['log4j']}"
    return (
        SparkSession.builder.master(job["master"])
        .appName("sessionsim")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.driver.host", "127.0.0.1")
        .config("spark.driver.bindAddress", "127.0.0.1")
        .config("spark.driver.extraJavaOptions", quiet)
        .config("spark.executor.extraJavaOptions", quiet)
        .config("spark.sql.shuffle.partitions", "4")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.sql.streaming.numRecentProgressUpdates", "1000000")
        .getOrCreate()
    )


def _stream(spark: Any, job: dict[str, Any]) -> int:
    """Structured Streaming over the micro-batch files; return the rows Spark dropped."""
    from pyspark.sql import functions as F

    query = (
        spark.readStream.schema(SCHEMA)
        .option("maxFilesPerTrigger", 1)
        .csv(job["source"])
        .withColumn("rt", F.timestamp_millis("ts"))
        .withWatermark("rt", f"{job['lateness_ms']} milliseconds")
        .groupBy("user_id", F.session_window("rt", f"{job['gap_ms']} milliseconds"))
        .agg(F.collect_list("arrival").alias("arrivals"))
        .select("user_id", "arrivals")
        .writeStream.format("json")
        .option("path", job["out"])
        .option("checkpointLocation", job["checkpoint"])
        .outputMode("append")
        .trigger(availableNow=True)
        .start()
    )
    query.awaitTermination()
    return sum(
        op.get("numRowsDroppedByWatermark", 0)
        for progress in query.recentProgress
        for op in progress.get("stateOperators", [])
    )


def _batch(spark: Any, job: dict[str, Any]) -> int:
    """The same aggregation on the whole file at once (no watermark: nothing dropped)."""
    from pyspark.sql import functions as F

    (
        spark.read.schema(SCHEMA)
        .csv(job["source"])
        .withColumn("rt", F.timestamp_millis("ts"))
        .groupBy("user_id", F.session_window("rt", f"{job['gap_ms']} milliseconds"))
        .agg(F.collect_list("arrival").alias("arrivals"))
        .select("user_id", "arrivals")
        .write.json(job["out"])
    )
    return 0


def main(argv: list[str]) -> int:
    """Run the job ``argv[1]`` names; exit 0 once its sessions and result are written."""
    job = json.loads(Path(argv[1]).read_text())
    spark = _session(job)
    try:
        dropped = (_stream if job["mode"] == "stream" else _batch)(spark, job)
    finally:
        spark.stop()
    Path(job["result"]).write_text(json.dumps({"dropped_by_watermark": dropped}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
