"""infra.local.iam: policy evaluation, the action and resource each call needs, and AWS's refusal."""

import json
from pathlib import Path

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from infra.local import iam

TEMPLATE = Path(__file__).resolve().parents[2] / 'template.yaml'
PRINCIPAL = 'arn:aws:sts::123456789012:assumed-role/FnRole/Fn'
TABLE_ARN = 'arn:aws:dynamodb:us-east-1:123456789012:table/items'


def allow(action, resource) -> dict:
    return {'Effect': 'Allow', 'Action': action, 'Resource': resource}


@pytest.fixture(autouse=True)
def own_denials(monkeypatch):
    """The denials these tests provoke are theirs, not findings of the suite."""
    monkeypatch.setattr(iam, 'denials', [])
    monkeypatch.setattr(iam, '_process_identity', None)


@pytest.fixture
def aws():
    with mock_aws():
        yield


def _table() -> None:
    boto3.client('dynamodb').create_table(
        TableName='items', BillingMode='PAY_PER_REQUEST',
        AttributeDefinitions=[{'AttributeName': 'id', 'AttributeType': 'S'}],
        KeySchema=[{'AttributeName': 'id', 'KeyType': 'HASH'}])


def _refusal(call) -> dict:
    with pytest.raises(ClientError) as refused:
        call()
    return refused.value.response


# --- evaluation ----------------------------------------------------------------------------------


def test_an_allow_matches_action_case_insensitively_and_resource_exactly():
    statements = [allow('DynamoDB:getitem', TABLE_ARN)]
    assert iam.evaluate(statements, 'dynamodb:GetItem', TABLE_ARN) == 'allow'
    assert iam.evaluate(statements, 'dynamodb:PutItem', TABLE_ARN) == 'implicit'
    assert iam.evaluate(statements, 'dynamodb:GetItem', TABLE_ARN.upper()) == 'implicit'
    assert iam.evaluate(statements, 'dynamodb:GetItem', f'{TABLE_ARN}/index/gsi1') == 'implicit'


def test_wildcards_in_actions_and_resources_and_nothing_else_is_special():
    statements = [allow(['dynamodb:Get*', 'kms:?ecrypt'], ['arn:aws:dynamodb:*:123456789012:table/it.ms/*',
                                                          'arn:aws:kms:us-east-1:123456789012:key/*'])]
    assert iam.evaluate(statements, 'dynamodb:GetItem', 'arn:aws:dynamodb:eu-west-1:123456789012:table/it.ms/index/a')
    assert iam.evaluate(statements, 'dynamodb:GetItem', 'arn:aws:dynamodb:eu-west-1:123456789012:table/itxms/index/a') \
        == 'implicit'  # "." is a character, not a pattern
    assert iam.evaluate(statements, 'kms:Decrypt', 'arn:aws:kms:us-east-1:123456789012:key/k1') == 'allow'
    assert iam.evaluate(statements, 'kms:Encrypt', 'arn:aws:kms:us-east-1:123456789012:key/k1') == 'implicit'


def test_an_explicit_deny_wins_over_any_allow():
    statements = [allow('dynamodb:*', '*'), {'Effect': 'Deny', 'Action': 'dynamodb:DeleteItem', 'Resource': TABLE_ARN}]
    assert iam.evaluate(statements, 'dynamodb:PutItem', TABLE_ARN) == 'allow'
    assert iam.evaluate(statements, 'dynamodb:DeleteItem', TABLE_ARN) == 'deny'


def test_unresolved_intrinsics_are_refused_up_front():
    with pytest.raises(ValueError, match='resolve intrinsics first'):
        iam.install_guard(PRINCIPAL, [allow('kms:Decrypt', {'Fn::GetAtt': ['SealingKey', 'Arn']})])


# --- calls ---------------------------------------------------------------------------------------


def test_a_call_the_statements_allow_goes_through_and_one_they_do_not_is_refused_as_aws_does(aws):
    _table()
    table = boto3.client('dynamodb')
    with iam.acting_as(PRINCIPAL, [allow('dynamodb:GetItem', TABLE_ARN)]):
        assert 'Item' not in table.get_item(TableName='items', Key={'id': {'S': '1'}})
        refusal = _refusal(lambda: table.put_item(TableName='items', Item={'id': {'S': '1'}}))

    assert refusal['Error'] == {'Code': 'AccessDeniedException', 'Message': (
        f'User: {PRINCIPAL} is not authorized to perform: dynamodb:PutItem on resource: {TABLE_ARN} '
        'because no identity-based policy allows the dynamodb:PutItem action')}
    assert refusal['ResponseMetadata']['HTTPStatusCode'] == 400
    assert [(d.action, d.resource) for d in iam.denials] == [('dynamodb:PutItem', TABLE_ARN)]
    # Outside the block nothing is checked (fixtures, assertions).
    table.put_item(TableName='items', Item={'id': {'S': '1'}})


def test_an_explicit_deny_says_so(aws):
    _table()
    statements = [allow('dynamodb:*', TABLE_ARN), {'Effect': 'Deny', 'Action': 'dynamodb:GetItem', 'Resource': '*'}]
    with iam.acting_as(PRINCIPAL, statements):
        refusal = _refusal(lambda: boto3.client('dynamodb').get_item(TableName='items', Key={'id': {'S': '1'}}))
    assert refusal['Error']['Message'].endswith('with an explicit deny in an identity-based policy')


def test_a_transaction_is_authorized_item_by_item_and_a_query_on_its_index(aws):
    _table()
    table = boto3.client('dynamodb')
    transaction = [{'Put': {'TableName': 'items', 'Item': {'id': {'S': '1'}}}},
                   {'Delete': {'TableName': 'items', 'Key': {'id': {'S': '2'}}}}]
    with iam.acting_as(PRINCIPAL, [allow('dynamodb:PutItem', TABLE_ARN)]):
        refusal = _refusal(lambda: table.transact_write_items(TransactItems=transaction))
    assert 'dynamodb:DeleteItem' in refusal['Error']['Message']
    with iam.acting_as(PRINCIPAL, [allow(['dynamodb:PutItem', 'dynamodb:DeleteItem'], TABLE_ARN)]):
        table.transact_write_items(TransactItems=transaction)

    required = iam.required(table, iam.identity(PRINCIPAL, []), 'Query', {'TableName': 'items', 'IndexName': 'gsi1'})
    assert required == [('dynamodb:Query', [f'{TABLE_ARN}/index/gsi1'])]


def test_a_key_named_by_alias_or_by_ciphertext_is_checked_as_the_key_itself(aws):
    kms = boto3.client('kms')
    key = kms.create_key()['KeyMetadata']['Arn']
    other = kms.create_key()['KeyMetadata']['Arn']
    kms.create_alias(AliasName='alias/sealing', TargetKeyId=key)
    blob = kms.encrypt(KeyId=other, Plaintext=b'x')['CiphertextBlob']

    with iam.acting_as(PRINCIPAL, [allow(['kms:GenerateDataKey', 'kms:Decrypt'], key)]):
        kms.generate_data_key(KeyId='alias/sealing', KeySpec='AES_256')
        kms.generate_data_key(KeyId=key.rsplit('/', 1)[1], KeySpec='AES_256')
        denied_key = _refusal(lambda: kms.generate_data_key(KeyId=other, KeySpec='AES_256'))
        denied_blob = _refusal(lambda: kms.decrypt(CiphertextBlob=blob))

    assert f'kms:GenerateDataKey on resource: {other} ' in denied_key['Error']['Message']
    assert f'kms:Decrypt on resource: {other} ' in denied_blob['Error']['Message']


def test_a_schedule_needs_pass_role_for_the_role_it_is_given(aws):
    boto3.client('scheduler').create_schedule_group(Name='meetings')
    role = 'arn:aws:iam::123456789012:role/scheduler'
    request = {'Name': 's1', 'GroupName': 'meetings', 'ScheduleExpression': 'at(2030-01-01T00:00:00)',
               'FlexibleTimeWindow': {'Mode': 'OFF'},
               'Target': {'Arn': 'arn:aws:lambda:us-east-1:123456789012:function:f', 'RoleArn': role}}
    schedules = allow('scheduler:CreateSchedule', 'arn:aws:scheduler:us-east-1:123456789012:schedule/meetings/*')
    scheduler = boto3.client('scheduler')

    with iam.acting_as(PRINCIPAL, [schedules]):
        refusal = _refusal(lambda: scheduler.create_schedule(**request))
    with iam.acting_as(PRINCIPAL, [schedules, allow('iam:PassRole', role)]):
        scheduler.create_schedule(**request)

    assert refusal['Error']['Code'] == 'AccessDeniedException'
    assert f'iam:PassRole on resource: {role} ' in refusal['Error']['Message']


def test_query_protocols_answer_access_denied_and_ses_names_the_senders_identity(aws):
    ses = boto3.client('ses')
    ses.verify_email_identity(EmailAddress='meetings@example.com')
    message = {'Source': 'Meetings <meetings@example.com>', 'Destination': {'ToAddresses': ['a@example.org']},
               'Message': {'Subject': {'Data': 's'}, 'Body': {'Text': {'Data': 'b'}}}}
    domain = 'arn:aws:ses:us-east-1:123456789012:identity/example.com'

    with iam.acting_as(PRINCIPAL, [allow('ses:SendEmail', 'arn:aws:ses:us-east-1:123456789012:identity/other.com')]):
        refusal = _refusal(lambda: ses.send_email(**message))
    with iam.acting_as(PRINCIPAL, [allow('ses:SendEmail', domain)]):
        ses.send_email(**message)

    assert refusal['Error']['Code'] == 'AccessDenied'
    assert refusal['ResponseMetadata']['HTTPStatusCode'] == 403
    assert 'identity/meetings@example.com' in refusal['Error']['Message']


def test_a_secret_named_without_its_suffix_is_the_one_the_policy_names(aws):
    secrets = boto3.client('secretsmanager')
    arn = secrets.create_secret(Name='zoom-app', SecretString=json.dumps({'client_id': 'x'}))['ARN']
    with iam.acting_as(PRINCIPAL, [allow('secretsmanager:GetSecretValue', arn)]):
        assert secrets.get_secret_value(SecretId='zoom-app')['ARN'] == arn
        assert secrets.get_secret_value(SecretId=arn)['ARN'] == arn
    with iam.acting_as(PRINCIPAL, [allow('secretsmanager:GetSecretValue', arn.replace('zoom', 'teams'))]):
        refusal = _refusal(lambda: secrets.get_secret_value(SecretId='zoom-app'))
    assert 'secret:zoom-app-??????' in refusal['Error']['Message']


def test_the_process_guard_checks_every_client_including_those_made_before_it(aws):
    _table()
    made_before = boto3.session.Session().client('dynamodb')
    iam.install_guard(PRINCIPAL, [allow('dynamodb:GetItem', TABLE_ARN)])

    made_before.get_item(TableName='items', Key={'id': {'S': '1'}})
    refusal = _refusal(lambda: made_before.delete_item(TableName='items', Key={'id': {'S': '1'}}))

    assert refusal['Error']['Code'] == 'AccessDeniedException'


# --- the template ----------------------------------------------------------------------------------


def test_function_statements_expand_policy_templates_and_keep_intrinsics():
    statements = iam.function_statements(TEMPLATE, 'JoinFunction')
    secrets = [s for s in statements if 'secretsmanager:GetSecretValue' in iam._as_list(s['Action'])]
    assert iam.resolve([s['Resource'] for s in secrets], {'ZoomClientSecret': 'arn:zoom'}, {}) == ['arn:zoom']
    decrypt = [s for s in statements if 'kms:Decrypt' in iam._as_list(s['Action'])]
    assert decrypt and 'Fn::Sub' in json.dumps(decrypt)


def test_resolve_replaces_refs_attributes_subs_and_splits():
    refs = {'AWS::Region': 'eu-west-1', 'SenderEmail': 'm@example.com', 'Key': 'k1'}
    attributes = {'Table.Arn': 'arn:table'}
    value = [{'Ref': 'Key'}, {'Fn::GetAtt': ['Table', 'Arn']}, {'Fn::Sub': '${Table.Arn}/index/${AWS::Region}'},
             {'Fn::Sub': ['d/${Domain}', {'Domain': {'Fn::Select': [1, {'Fn::Split': ['@', {'Ref': 'SenderEmail'}]}]}}]}]
    assert iam.resolve(value, refs, attributes) == ['k1', 'arn:table', 'arn:table/index/eu-west-1', 'd/example.com']
