"""comparators — decide whether a migration may go on: control vs candidate outcomes.

Scientist's vocabulary: the *control* is the synchronous path (legacy tables),
the *candidate* the event path (shadow store); one key's pair is an
*observation* (:class:`~comparators.result.KeyResult`), the fold of all of them
a *result* (:class:`~comparators.result.ComparisonResult`), a disagreeing key
a *mismatch*.

Pure modules (no I/O): ``values``, ``rules``, ``compiled``, ``fingerprint``,
``explain``, ``diff`` (the engine), ``result`` (counts, samples, ``merge``),
``partition``, ``position`` (where the shadow group stands), ``kafka_partitioner``,
``invariants``, ``noise``, ``verdict``, ``repair``, ``report``, ``plots``. I/O modules:
``sources`` (SQL / callable outcome sources), ``position_kafka`` and ``heartbeat_kafka``
(the group's position and the connector's newest heartbeat), ``outbox`` (repair writer),
``watch`` (watermark stores), ``plan`` (reads the plan file), ``commands`` and ``cli``.

How a key is judged (``diff``): after its settle window (control
``produced_at`` + ``settle`` <= ``now``; unsettled keys are *pending*);
``out_of_scope`` when it was written in a mode the comparison does not cover (``sync``
in a dual-write comparison); ``duplicate`` if a side has more than one row; ``extra``
without control; without candidate ``pending`` while the pipeline's watermark has not
passed its settle deadline, ``expired`` when Kafka deleted its event unread, else
``missing``; else digests are compared in three levels — the record minus
ignored paths, the normalised record, the normalised record with toleranced
values rounded to their step — and only pairs that differ at every level are
explained with deepdiff (tolerances re-checked there): ``divergent`` when a
difference remains, else ``match`` (``late`` when the candidate finished after
the settle deadline).

CLI exit codes (``cutover compare run|watch|report|merge``): pass 0, warn 3,
fail 4, low-confidence 5; 1 for a toolkit error.
"""
