"""Local stand-ins for the video platforms' OAuth and REST APIs, for tests and the local stack.

Each sandbox is a small stdlib HTTP server that answers like the real service, including its
refusals, so that client code meets the provider's rules on 127.0.0.1 before it meets them in
production. ``infra.sandboxes.zoom`` is the Zoom one, ``infra.sandboxes.microsoft`` Entra ID with
Microsoft Graph's online meetings. What they share: ``web`` (the HTTP plumbing), ``sandbox`` (the base
``Sandbox``: lifecycle, clock, faults, calls log, dispatch), ``control`` (the ``/_sandbox/`` endpoints
every sandbox has), ``cli`` (running one alone) and ``pages`` (pieces of the index page).
"""
