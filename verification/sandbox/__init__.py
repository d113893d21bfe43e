"""The built-in Kredibel sandbox: a fake provider that behaves as the provider's
documented sandbox does (see shared/kredibel/CONTRACT.md and the seed document).

It is a server, reached over HTTP like the real provider, and its own Django app,
installed (and routed at /sandbox/) only while KREDIBEL_SANDBOX is on: production mode
neither installs nor imports it, and no production code imports it. The parts:

- `answers`: the core, `Sandbox.handle`, which knows nothing of any web framework;
- `validation`: the provider's documented request rules and error wording;
- `faults`: misbehaviour on demand (latency, failures, downtime, stalls, garbage);
- `views` and `urls`: the sandbox mounted at /sandbox/, accepting exactly
  settings.KREDIBEL_API_KEY with the faults in settings.KREDIBEL_SANDBOX_FAULTS;
- `server` and `manage.py runsandbox`: the sandbox served alone, at the provider's
  own paths.

Answers:
- 200 with the documented success body; the nine documented NIKs give their
  documented verdicts, any other NIK `verified`;
- 400 `{"errors": {field: [messages]}, "message": "Input payload validation
  failed."}` with every field's problems at once, or 400 `{"message": ...}` for a
  body that is not a JSON object;
- 401 for a missing or wrong key, 404 / 405 for other paths and methods, 413 for a
  body over MAX_BODY_BYTES; every one JSON. No input produces a 500 unless a fault
  asks for one.
"""
