"""The whole meetbridge stack running locally, driven by ``template.yaml``.

``python -m infra.local`` (what ``make dev`` runs) starts moto's AWS in-process, provisions the
template's resources in it, runs every function in worker processes of its own (its own environment,
role and timeout, as Lambda's execution environments) and serves:

- an HTTP API gateway (payload format 2.0) built from the functions' ``HttpApi`` events, which refuses
  overload with 429 (the template's route throttle, a function's workers all busy);
- SQS pollers for the functions' ``SQS`` events, running more batches at once while messages wait
  (``ReportBatchItemFailures`` honoured);
- an EventBridge Scheduler loop firing one-time ``at(...)`` schedules (moto never fires them);
- local-only dev endpoints under ``/_local/`` (the SES outbox).
- a sandbox per meeting provider (Zoom, Microsoft) on loopback ports, whose credentials become
  the template's secrets and whose addresses become the functions' provider settings.

No Docker, no AWS account, no internet. Nothing here is deployed.
"""
