"""The Twilio TaskRouter connector: Workspace event callbacks as contract events.

``translate`` (pure) turns one callback's form fields into contract event dicts; ``order``
holds a task's callbacks until their lifecycle predecessors were published (Twilio sends a
task's callbacks concurrently); ``server`` is the aiohttp transport (signature check, 2xx only
after the broker's acknowledgement); ``generate`` makes signed, real-shaped callbacks for the
simulator's calls. The page is ``docs/connectors/twilio.md``.
"""
