"""The CloudFormation the SAM transform makes of template.yaml: functions, IAM, queues, tables, logs, routes."""

import fnmatch
import re
from typing import Any

import pytest

FUNCTIONS = {
    "BookingWebhookFunction",
    "OAuthFunction",
    "MeetingsFunction",
    "AutoStartFunction",
    "NotificationsFunction",
    "JoinFunction",
    "AdminFunction",
}

ROUTES = {
    ("POST", "/webhooks/{source}/{tenant_id}"): "BookingWebhookFunction",
    ("GET", "/oauth/{provider}/start"): "OAuthFunction",
    ("GET", "/oauth/{provider}/callback"): "OAuthFunction",
    ("POST", "/oauth/{provider}/callback"): "OAuthFunction",
    ("POST", "/providers/zoom/events"): "OAuthFunction",
    ("GET", "/j/{token}"): "JoinFunction",
    ("ANY", "/v1/tenants/{tenant_id}/{proxy+}"): "AdminFunction",
    # Every other path: a readable 404 (a page for people, JSON under the API's prefixes).
    ("ANY", "/"): "JoinFunction",
    ("ANY", "/{proxy+}"): "JoinFunction",
}

SQS_CONSUMERS = {"MeetingsFunction", "NotificationsFunction"}

# AWS's guidance for SQS event sources: at least 6x the function timeout leaves Lambda room to retry a
# throttled batch before its messages become visible again.
VISIBILITY_TIMEOUT_FACTOR = 6

BASIC_EXECUTION_POLICY = "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"
SQS_EXECUTION_POLICY = "arn:aws:iam::aws:policy/service-role/AWSLambdaSQSQueueExecutionRole"

TABLE_WRITE_ACTIONS = [
    "dynamodb:PutItem",
    "dynamodb:UpdateItem",
    "dynamodb:DeleteItem",
    "dynamodb:BatchWriteItem",
    "dynamodb:PartiQLInsert",
    "dynamodb:PartiQLUpdate",
    "dynamodb:PartiQLDelete",
]

# (action, resource it is checked against or None for any resource) -> the only functions allowed it.
WHO_MAY = {
    # Sealing is envelope encryption: kms:GenerateDataKey to seal, kms:Decrypt to unwrap the data key.
    ("kms:GenerateDataKey", "SealingKey"): {"OAuthFunction", "MeetingsFunction", "AdminFunction"},
    ("kms:Decrypt", "SealingKey"): FUNCTIONS - {"AutoStartFunction"},
    ("kms:Encrypt", None): set(),
    ("scheduler:CreateSchedule", None): {"MeetingsFunction"},
    ("iam:PassRole", None): {"MeetingsFunction"},
    ("ses:SendEmail", None): {"NotificationsFunction"},
    ("secretsmanager:GetSecretValue", None): {"OAuthFunction", "MeetingsFunction"},
}

# Actions that, wherever granted, must name exactly this resource.
SCOPED_TO = {
    "iam:PassRole": "SchedulerRole",
    "scheduler:CreateSchedule": "ScheduleGroup",
    "kms:GenerateDataKey": "SealingKey",
    "kms:Decrypt": "SealingKey",
}


def of_type(resources: dict[str, Any], resource_type: str) -> dict[str, Any]:
    return {name: resource for name, resource in resources.items() if resource["Type"] == resource_type}


def get_att_target(value: Any) -> str:
    """The logical ID behind `!GetAtt X.Arn`."""
    assert isinstance(value, dict) and "Fn::GetAtt" in value, f"expected !GetAtt, got {value!r}"
    return value["Fn::GetAtt"][0]


def test_exactly_the_seven_functions_exist(cfn_resources):
    assert set(of_type(cfn_resources, "AWS::Lambda::Function")) == FUNCTIONS


@pytest.mark.parametrize("function_name", sorted(FUNCTIONS))
def test_function_runs_python313_on_arm64_with_the_shared_layer(cfn_resources, function_name):
    properties = cfn_resources[function_name]["Properties"]
    layers = of_type(cfn_resources, "AWS::Lambda::LayerVersion")
    assert len(layers) == 1
    [(layer_name, layer)] = layers.items()

    assert properties["Runtime"] == "python3.13"
    assert properties["Architectures"] == ["arm64"]
    assert properties["Layers"] == [{"Ref": layer_name}]
    assert "python3.13" in layer["Properties"]["CompatibleRuntimes"]
    assert layer["Properties"]["CompatibleArchitectures"] == ["arm64"]


@pytest.mark.parametrize("function_name", sorted(FUNCTIONS))
def test_function_is_built_by_the_shared_functions_makefile(sam_template, function_name):
    # functions/Makefile ships handler.py alone, so the handler must live there.
    function = sam_template["Resources"][function_name]
    assert function["Metadata"] == {"BuildMethod": "makefile", "ContextPath": "functions"}
    assert function["Properties"]["Handler"] == "handler.lambda_handler"


def test_every_function_has_a_role_of_its_own(cfn_resources):
    roles = {name: get_att_target(cfn_resources[name]["Properties"]["Role"]) for name in FUNCTIONS}
    assert len(set(roles.values())) == len(FUNCTIONS), roles
    for role in roles.values():
        assert cfn_resources[role]["Type"] == "AWS::IAM::Role"


def test_sqs_event_sources_report_batch_item_failures(cfn_resources):
    mappings = of_type(cfn_resources, "AWS::Lambda::EventSourceMapping")
    assert {mapping["Properties"]["FunctionName"]["Ref"] for mapping in mappings.values()} == SQS_CONSUMERS
    for name, mapping in mappings.items():
        assert "ReportBatchItemFailures" in mapping["Properties"].get("FunctionResponseTypes", []), name


def test_sqs_source_queues_redrive_to_a_dead_letter_queue_and_outlast_their_consumer(cfn_resources):
    for mapping in of_type(cfn_resources, "AWS::Lambda::EventSourceMapping").values():
        queue_name = get_att_target(mapping["Properties"]["EventSourceArn"])
        queue = cfn_resources[queue_name]["Properties"]
        function = cfn_resources[mapping["Properties"]["FunctionName"]["Ref"]]["Properties"]

        redrive = queue.get("RedrivePolicy")
        assert redrive, f"{queue_name} has no RedrivePolicy"
        dead_letter_queue = get_att_target(redrive["deadLetterTargetArn"])
        assert dead_letter_queue != queue_name
        assert cfn_resources[dead_letter_queue]["Type"] == "AWS::SQS::Queue"
        assert redrive["maxReceiveCount"] >= 1
        assert queue["VisibilityTimeout"] >= VISIBILITY_TIMEOUT_FACTOR * function["Timeout"], queue_name


def test_both_tables_expire_items_by_ttl(cfn_resources):
    tables = of_type(cfn_resources, "AWS::DynamoDB::Table")
    assert set(tables) == {"Table", "IdempotencyTable"}
    for name, table in tables.items():
        ttl = table["Properties"].get("TimeToLiveSpecification", {})
        assert ttl.get("Enabled") is True and ttl.get("AttributeName"), name


def test_every_function_logs_to_a_log_group_with_retention(cfn_resources):
    log_groups = {
        resource["Properties"]["LogGroupName"].get("Fn::Sub"): resource["Properties"]
        for resource in of_type(cfn_resources, "AWS::Logs::LogGroup").values()
    }
    for function_name in FUNCTIONS:
        log_group = log_groups.get(f"/aws/lambda/${{{function_name}}}")
        assert log_group, f"no log group for {function_name}"
        assert log_group.get("RetentionInDays"), f"log group of {function_name} keeps logs forever"


def test_http_api_serves_exactly_the_public_routes(cfn_resources):
    [api] = of_type(cfn_resources, "AWS::ApiGatewayV2::Api").values()
    routes = {}
    for path, operations in api["Properties"]["Body"]["paths"].items():
        for operation, spec in operations.items():
            method = "ANY" if operation == "x-amazon-apigateway-any-method" else operation.upper()
            uri = spec["x-amazon-apigateway-integration"]["uri"]["Fn::Sub"]
            routes[(method, path)] = uri.split("/functions/${", 1)[1].split(".Arn}", 1)[0]
    assert routes == ROUTES


def test_auto_start_failures_go_to_the_scheduler_dead_letter_queue(cfn_resources):
    [config] = [
        resource["Properties"]
        for resource in of_type(cfn_resources, "AWS::Lambda::EventInvokeConfig").values()
        if resource["Properties"]["FunctionName"] == {"Ref": "AutoStartFunction"}
    ]
    destination = get_att_target(config["DestinationConfig"]["OnFailure"]["Destination"])
    assert destination == "SchedulerDeadLetterQueue"
    # SAM grants the function's role the send for its own destination; nothing else needs to.
    sends = [
        get_att_target(statement["Resource"])
        for statement in allow_statements(cfn_resources, "AutoStartFunction")
        if "sqs:SendMessage" in as_list(statement["Action"])
    ]
    assert sends == ["SchedulerDeadLetterQueue"]


# --- least privilege ------------------------------------------------------------


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def role_of(cfn_resources: dict[str, Any], function_name: str) -> dict[str, Any]:
    return cfn_resources[get_att_target(cfn_resources[function_name]["Properties"]["Role"])]["Properties"]


def allow_statements(cfn_resources: dict[str, Any], function_name: str) -> list[dict[str, Any]]:
    return [
        statement
        for policy in role_of(cfn_resources, function_name).get("Policies", [])
        for statement in as_list(policy["PolicyDocument"]["Statement"])
        if statement["Effect"] == "Allow"
    ]


def refers_to(value: Any, logical_id: str) -> bool:
    """Whether an ARN expression is built from the resource `logical_id` (Ref, GetAtt or Sub)."""
    if isinstance(value, list):
        return any(refers_to(item, logical_id) for item in value)
    if not isinstance(value, dict):
        return False
    if "Ref" in value:
        return value["Ref"] == logical_id
    if "Fn::GetAtt" in value:
        return value["Fn::GetAtt"][0] == logical_id
    if "Fn::Sub" in value:
        text, variables = (value["Fn::Sub"], {}) if isinstance(value["Fn::Sub"], str) else value["Fn::Sub"]
        mentioned = re.search(r"\$\{" + re.escape(logical_id) + r"[.}]", text) is not None
        return mentioned or refers_to(list(variables.values()), logical_id)
    return refers_to(list(value.values()), logical_id)


def allows(statement: dict[str, Any], action: str, resource: str | None = None) -> bool:
    if not any(fnmatch.fnmatchcase(action.lower(), pattern.lower()) for pattern in as_list(statement["Action"])):
        return False
    return resource is None or any(arn == "*" or refers_to(arn, resource) for arn in as_list(statement["Resource"]))


def functions_allowed(cfn_resources: dict[str, Any], action: str, resource: str | None = None) -> set[str]:
    return {
        name
        for name in FUNCTIONS
        if any(allows(statement, action, resource) for statement in allow_statements(cfn_resources, name))
    }


@pytest.mark.parametrize(("action", "resource"), sorted(WHO_MAY, key=str), ids=str)
def test_only_the_functions_that_need_it_are_allowed(cfn_resources, action, resource):
    assert functions_allowed(cfn_resources, action, resource) == WHO_MAY[(action, resource)]


def test_booking_webhook_reads_but_cannot_write_the_main_table(cfn_resources):
    writers = set().union(*(functions_allowed(cfn_resources, action, "Table") for action in TABLE_WRITE_ACTIONS))
    assert "BookingWebhookFunction" not in writers
    assert "BookingWebhookFunction" in functions_allowed(cfn_resources, "dynamodb:GetItem", "Table")
    assert writers == {"OAuthFunction", "MeetingsFunction", "AutoStartFunction", "JoinFunction", "AdminFunction"}


@pytest.mark.parametrize(("action", "resource"), sorted(SCOPED_TO.items()))
def test_sensitive_actions_name_only_their_resource(cfn_resources, action, resource):
    granted = [
        (name, arn)
        for name in FUNCTIONS
        for statement in allow_statements(cfn_resources, name)
        if allows(statement, action)
        for arn in as_list(statement["Resource"])
    ]
    assert granted
    assert [(name, arn) for name, arn in granted if not refers_to(arn, resource)] == []


@pytest.mark.parametrize("function_name", sorted(FUNCTIONS))
def test_no_inline_statement_grants_every_resource(cfn_resources, function_name):
    for statement in allow_statements(cfn_resources, function_name):
        assert "*" not in as_list(statement["Resource"]), statement


@pytest.mark.parametrize("function_name", sorted(FUNCTIONS))
def test_only_lambda_execution_managed_policies_are_attached(cfn_resources, function_name):
    # Managed policies bypass the statement checks above, so only SAM's own execution policies are allowed.
    expected = {BASIC_EXECUTION_POLICY} | ({SQS_EXECUTION_POLICY} if function_name in SQS_CONSUMERS else set())
    assert set(role_of(cfn_resources, function_name).get("ManagedPolicyArns", [])) == expected
