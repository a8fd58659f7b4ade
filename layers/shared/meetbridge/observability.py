"""The one Logger and Metrics pair every function uses."""

from aws_lambda_powertools import Logger, Metrics

logger = Logger()
metrics = Metrics()
