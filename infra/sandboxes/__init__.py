"""Local stand-ins for the outside services' APIs, for tests and the local stack.

Each sandbox is a small stdlib HTTP server that answers like the real service, including its
refusals, so that client code meets the provider's rules on 127.0.0.1 before it meets them in
production. ``infra.sandboxes.zoom`` is the Zoom one, ``infra.sandboxes.microsoft`` Entra ID with
Microsoft Graph's online meetings, ``infra.sandboxes.google`` Google's OAuth 2.0 with Calendar events
that carry a Google Meet; ``simplybook``, ``acuity`` and ``square`` are the booking
platforms' APIs that a source reads a booking's details from (not yet wired into the local stack).
What they share: ``web`` (the HTTP plumbing), ``sandbox`` (the base ``Sandbox``: lifecycle, clock,
faults, calls log, dispatch), ``control`` (the ``/_sandbox/`` endpoints every sandbox has), ``cli``
(running one alone), ``pages`` (pieces of the index page) and ``oauth`` (PKCE, base64url, a JWT's claims).
"""
