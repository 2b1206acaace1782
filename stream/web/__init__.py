"""The live wallboard: an aiohttp server (``server.py``) and its page (``static/``, plain JS)."""
