"""The local stack's DynamoDB transactions (infra/local/moto_patches.py): only the items a transaction names are
backed up, and a cancelled one leaves every item as it was, as on AWS."""

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws
from moto.dynamodb.models import DynamoDBBackend, dynamodb_backends

from infra.local import moto_patches


@pytest.fixture
def table():
    original = DynamoDBBackend.transact_write_items
    moto_patches._patch_dynamodb_transactions()
    try:
        with mock_aws():
            client = boto3.client('dynamodb', region_name='us-east-1')
            client.create_table(TableName='t', BillingMode='PAY_PER_REQUEST',
                                AttributeDefinitions=[{'AttributeName': 'pk', 'AttributeType': 'S'},
                                                      {'AttributeName': 'sk', 'AttributeType': 'S'}],
                                KeySchema=[{'AttributeName': 'pk', 'KeyType': 'HASH'},
                                           {'AttributeName': 'sk', 'KeyType': 'RANGE'}])
            client.put_item(TableName='t', Item={'pk': {'S': 'a'}, 'sk': {'S': '1'}, 'n': {'N': '1'}})
            yield client
    finally:
        DynamoDBBackend.transact_write_items = original


def _items(client) -> dict:
    return {(i['pk']['S'], i['sk']['S']): i for i in client.scan(TableName='t')['Items']}


def _backend_table():
    return dynamodb_backends['123456789012']['us-east-1'].tables['t']


def test_a_transaction_applies_every_item(table):
    table.transact_write_items(TransactItems=[
        {'Update': {'TableName': 't', 'Key': {'pk': {'S': 'a'}, 'sk': {'S': '1'}}, 'UpdateExpression': 'SET n = :n',
                    'ExpressionAttributeValues': {':n': {'N': '2'}}}},
        {'Put': {'TableName': 't', 'Item': {'pk': {'S': 'b'}, 'sk': {'S': '1'}}}}])
    assert _items(table)[('a', '1')]['n'] == {'N': '2'} and ('b', '1') in _items(table)


def test_a_cancelled_transaction_leaves_every_item_as_it_was_without_copying_the_table(table):
    before, table_object = _items(table), _backend_table()
    with pytest.raises(ClientError) as refused:
        table.transact_write_items(TransactItems=[
            {'Update': {'TableName': 't', 'Key': {'pk': {'S': 'a'}, 'sk': {'S': '1'}},
                        'UpdateExpression': 'SET n = :n', 'ExpressionAttributeValues': {':n': {'N': '3'}}}},
            {'Put': {'TableName': 't', 'Item': {'pk': {'S': 'c'}, 'sk': {'S': '1'}}}},
            {'Put': {'TableName': 't', 'Item': {'pk': {'S': 'a'}, 'sk': {'S': '2'}},
                     'ConditionExpression': 'attribute_exists(pk)'}}])
    assert refused.value.response['Error']['Code'] == 'TransactionCanceledException'
    assert _items(table) == before
    assert _backend_table() is table_object  # moto's own rollback would have put a whole copy in its place
    assert not hasattr(type(table_object), '__deepcopy__')  # tables are copied as usual outside a transaction
