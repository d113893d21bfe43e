"""The integrator API: how an operator's own systems (a bank's or a lending app's
sign-up) start a verification for one of their customers, send the customer here,
and learn the outcome without anyone copying it across.

- `keys`: API keys (`Authorization: Bearer <key>`), stored only as a hash, each
  with a name, a webhook URL and a `whsec_` signing secret of its own.
- `sessions`: verification sessions created by `POST /api/v1/sessions`, their
  status as integrators see it, and the one place every status change passes
  through (`attempt_changed`, called in the transaction of the change).
- `webhooks`: Standard Webhooks deliveries of `session.updated`, written with the
  change and sent by the worker's webhook lane, retried for a day.
- `targets`: which URLs a webhook or a `returnUrl` may point at.
- `ratelimits`: per-key request limits, shared by every web host.
- `views`, `urls`, `openapi`: the HTTP API under /api/v1/ and its description.

A Django app of its own inside `verification` (tables `integrations_*`), so that
its migrations follow their own line.
"""
