"""Public AWS prices, us-east-1, USD, arm64, on demand, past the free tiers: the one place the benchmarks
(`infra/load.py`, `infra/bench_start.py`) take them from.

Each price names its page; checked 2026-11-27.
"""

# https://aws.amazon.com/lambda/pricing/ : Arm, first 7.5 billion GB-seconds a month; requests. Init is billed as
# duration (https://aws.amazon.com/blogs/compute/aws-lambda-standardizes-billing-for-init-phase/, from 2025-08-01).
LAMBDA_ARM_GB_SECOND = 0.0000133334
LAMBDA_REQUEST = 0.20 / 1e6
# https://aws.amazon.com/sqs/pricing/ : standard queue, each 64 KB chunk of a request's payload is a request.
SQS_REQUEST = 0.40 / 1e6
# https://aws.amazon.com/eventbridge/pricing/ : custom events published (each PutEvents entry of up to 64 KB);
# Scheduler: invocations past the free 14 million a month; its API calls (CreateSchedule, ...) are not billed.
PUT_EVENT = 1.00 / 1e6
SCHEDULER_INVOCATION = 1.00 / 1e6
# https://aws.amazon.com/dynamodb/pricing/on-demand/ : request units (since the November 2024 price cut).
DYNAMODB_WRITE_UNIT = 0.625 / 1e6
DYNAMODB_READ_UNIT = 0.125 / 1e6
# https://aws.amazon.com/kms/pricing/ : symmetric key requests (Encrypt, Decrypt, GenerateDataKey, ...).
KMS_REQUEST = 0.03 / 10_000
# https://aws.amazon.com/ses/pricing/ : outbound email, stated apart from the per-booking target.
SES_EMAIL = 0.10 / 1000
# https://aws.amazon.com/secrets-manager/pricing/ : API calls.
SECRETS_MANAGER_REQUEST = 0.05 / 10_000

# Request units per DynamoDB operation, per item for the ``<operation> items`` counts (the local stack counts a
# transaction's and a batch's items): every item of this stack is under 1 KB (a write unit) and 4 KB (a read unit);
# pynamodb and boto3 read eventually consistent (half a unit); a query page is counted as one unit; a transaction
# costs 2 units an item.
READ_UNITS = {'GetItem': 0.5, 'Query': 1, 'Scan': 1, 'BatchGetItem items': 0.5, 'TransactGetItems items': 2}
WRITE_UNITS = {'PutItem': 1, 'UpdateItem': 1, 'DeleteItem': 1, 'BatchWriteItem items': 1, 'TransactWriteItems items': 2}
