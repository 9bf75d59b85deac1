"""pyspark's foreachBatch worker, connecting back to the Spark Connect server before its heavy imports.

Started by `spark/python-worker` in place of `python -m pyspark.sql.connect.streaming.worker.
foreach_batch_worker`, whose module-level imports (the Connect client: pandas, pyarrow, grpc) come before
the connection Spark waits a fixed 10 s for. The protocol is pyspark's own: the same connect-and-auth
function, then the same `main` on the same socket file.
"""

from pyspark.worker_util import get_sock_file_to_executor

if __name__ == "__main__":
    with get_sock_file_to_executor(timeout=None) as sock_file:
        from pyspark.sql.connect.streaming.worker.foreach_batch_worker import main

        main(sock_file, sock_file)
