"""The local stack's usage counters (GET /_local/usage, POST /_local/usage/reset): each AWS request by caller and
operation with what AWS bills per item, and per function what Lambda bills, read from its REPORT lines."""

import io
import json
from collections import Counter
from pathlib import Path

from infra.local.lambdas import LocalFunction
from infra.local.stack import LocalStack, Options, _count

KEY = 'ASIAFUNCTIONKEY'


def _environ(body: dict | str, *, target: str | None = None, service: str = 'dynamodb', method: str = 'POST',
             path: str = '/', content_type: str = 'application/x-amz-json-1.0') -> dict:
    raw = (body if isinstance(body, str) else json.dumps(body)).encode()
    environ = {'HTTP_AUTHORIZATION': f'AWS4-HMAC-SHA256 Credential={KEY}/20261127/us-east-1/{service}/aws4_request, '
                                     'SignedHeaders=host, Signature=x',
               'REQUEST_METHOD': method, 'PATH_INFO': path, 'CONTENT_TYPE': content_type,
               'CONTENT_LENGTH': str(len(raw)), 'wsgi.input': io.BytesIO(raw)}
    if target:
        environ['HTTP_X_AMZ_TARGET'] = target
    return environ


def test_each_request_is_counted_by_operation_with_the_items_aws_bills_one_by_one():
    requests: Counter = Counter()
    batch_get = _environ({'RequestItems': {'t': {'Keys': [{}, {}, {}]}, 'u': {'Keys': [{}]}}},
                         target='DynamoDB_20120810.BatchGetItem')
    _count(requests, batch_get)
    _count(requests, _environ({'RequestItems': {'t': [{'PutRequest': {}}, {'DeleteRequest': {}}]}},
                              target='DynamoDB_20120810.BatchWriteItem'))
    _count(requests, _environ({'TransactItems': [{}, {}]}, target='DynamoDB_20120810.TransactWriteItems'))
    _count(requests, _environ({'Entries': [{}, {}, {}]}, target='AWSEvents.PutEvents', service='events'))
    _count(requests, _environ('Action=SendEmail&Version=2010-12-01', service='ses',
                              content_type='application/x-www-form-urlencoded; charset=utf-8'))
    _count(requests, _environ({}, service='scheduler', path='/schedules/meetbridge-start-bk-1',
                              content_type='application/json'))
    assert requests == {
        (KEY, 'DynamoDB_20120810.BatchGetItem'): 1, (KEY, 'DynamoDB_20120810.BatchGetItem items'): 4,
        (KEY, 'DynamoDB_20120810.BatchWriteItem'): 1, (KEY, 'DynamoDB_20120810.BatchWriteItem items'): 2,
        (KEY, 'DynamoDB_20120810.TransactWriteItems'): 1, (KEY, 'DynamoDB_20120810.TransactWriteItems items'): 2,
        (KEY, 'AWSEvents.PutEvents'): 1, (KEY, 'AWSEvents.PutEvents items'): 3,
        (KEY, 'ses.SendEmail'): 1, (KEY, 'scheduler POST /schedules'): 1,
    }
    assert json.loads(batch_get['wsgi.input'].read())['RequestItems']['u'] == {'Keys': [{}]}  # left for moto


def _function(logical_id: str, memory: int) -> LocalFunction:
    return LocalFunction(
        logical_id=logical_id, name=f'meetbridge-{logical_id}', arn=f'arn:aws:lambda:us-east-1:1:function:{logical_id}',
        role_arn=f'arn:aws:iam::123456789012:role/meetbridge-{logical_id}Role', code_dir=Path('.'),
        handler='handler.handler', module_name='handler', runtime_id='python3.13', timeout=3, memory=memory,
        reserved_concurrency=None, environment={}, events=[], event_invoke_config={}, dead_letter_queue=None)


def test_usage_names_each_caller_by_its_function_and_sums_what_lambda_bills_until_reset():
    stack = LocalStack(Options())
    webhook, meetings = _function('BookingWebhookFunction', 512), _function('MeetingsFunction', 1024)
    stack.functions = [webhook, meetings]
    key = webhook.credentials()['AWS_ACCESS_KEY_ID']
    stack.aws_requests.update({(key, 'DynamoDB_20120810.GetItem'): 2, ('testing', 'AmazonSQS.ReceiveMessage'): 5,
                               ('unknown', 'AmazonSQS.ReceiveMessage'): 1})
    webhook.invocations = 2
    webhook.count_report('REPORT RequestId: a\tDuration: 10.20 ms\tBilled Duration: 11 ms\tMemory Size: 512 MB'
                         '\tMax Memory Used: 90 MB\tInit Duration: 812.50 ms')
    webhook.count_report('REPORT RequestId: b\tDuration: 3.00 ms\tBilled Duration: 3 ms\tMemory Size: 512 MB')
    meetings.count_report('INIT_REPORT Init Duration: 900.00 ms\tPhase: init\tStatus: error')

    usage = stack.usage(reset=True)

    assert usage == {
        'aws_requests': {'BookingWebhookFunction': {'DynamoDB_20120810.GetItem': 2},
                         'stack': {'AmazonSQS.ReceiveMessage': 6}},
        'functions': {'BookingWebhookFunction': {'invocations': 2, 'billed_ms': 14, 'init_ms': 812.5, 'memory_mb': 512},
                      'MeetingsFunction': {'invocations': 0, 'billed_ms': 0, 'init_ms': 900.0, 'memory_mb': 1024}},
    }
    assert stack.usage() == {'aws_requests': {}, 'functions': {
        'BookingWebhookFunction': {'invocations': 0, 'billed_ms': 0, 'init_ms': 0.0, 'memory_mb': 512},
        'MeetingsFunction': {'invocations': 0, 'billed_ms': 0, 'init_ms': 0.0, 'memory_mb': 1024}}}
