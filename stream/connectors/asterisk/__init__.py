"""The Asterisk / FreePBX connector: ``queue_log`` lines as contract events.

``queue_log`` parses one line as app_queue writes it; ``settings`` reads the connector's YAML
(queue and agent renames, each queue's ``wrapuptime``); ``translator`` turns parsed lines into
contract event dicts (pure: no I/O, no clock); ``follow`` reads the file like ``tail -F`` with
a checkpoint; ``connector`` joins them to the shared publisher; ``generator`` writes a
``queue_log`` for the simulator's contact centre. The mapping is in
``docs/connectors/asterisk.md``.
"""
