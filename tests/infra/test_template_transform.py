"""The CloudFormation the SAM transform makes of template.yaml: functions, IAM, queues, tables, logs, routes."""

from typing import Any

import pytest

FUNCTIONS = {
    "BookingWebhookFunction",
    "AlertsFunction",
    "CallbacksFunction",
    "OAuthFunction",
    "MeetingsFunction",
    "AutoStartFunction",
    "NotificationsFunction",
    "JoinFunction",
    "AdminFunction",
    "OutboxSweeperFunction",
    "HealthFunction",
}

ROUTES = {
    ("POST", "/webhooks/{source}/{tenant_id}"): "BookingWebhookFunction",
    ("GET", "/oauth/{provider}/start"): "OAuthFunction",
    ("GET", "/oauth/{provider}/callback"): "OAuthFunction",
    ("POST", "/oauth/{provider}/callback"): "OAuthFunction",
    ("POST", "/providers/zoom/events"): "OAuthFunction",
    ("ANY", "/j/{token}"): "JoinFunction",  # GET shows the page, its button POSTs
    ("ANY", "/j/{token}/state"): "JoinFunction",  # what the waiting page's script polls
    ("ANY", "/j/{token}/opened"): "JoinFunction",  # what the page's script posts when a person sees it
    ("ANY", "/v1/tenants/{tenant_id}/{proxy+}"): "AdminFunction",
    # Every other path: a readable 404 (a page for people, JSON under the API's prefixes).
    ("ANY", "/"): "JoinFunction",
    ("ANY", "/{proxy+}"): "JoinFunction",
}

SQS_CONSUMERS = {"MeetingsFunction", "AutoStartFunction", "NotificationsFunction", "AlertsFunction",
                 "HealthFunction", "CallbacksFunction"}

# AWS's guidance for SQS event sources: at least 6x the function timeout leaves Lambda room to retry a
# throttled batch before its messages become visible again.
VISIBILITY_TIMEOUT_FACTOR = 6

BASIC_EXECUTION_POLICY = "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"
SQS_EXECUTION_POLICY = "arn:aws:iam::aws:policy/service-role/AWSLambdaSQSQueueExecutionRole"

def of_type(resources: dict[str, Any], resource_type: str) -> dict[str, Any]:
    return {name: resource for name, resource in resources.items() if resource["Type"] == resource_type}


def get_att_target(value: Any) -> str:
    """The logical ID behind `!GetAtt X.Arn`."""
    assert isinstance(value, dict) and "Fn::GetAtt" in value, f"expected !GetAtt, got {value!r}"
    return value["Fn::GetAtt"][0]


def test_exactly_these_functions_exist(cfn_resources):
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


def test_the_health_function_has_time_for_each_account_check_of_a_batch(cfn_resources):
    """An account's message (its proof, its lookups spaced out) fits the Timeout once per record of a batch when the
    provider answers at once; a slow provider's lookups stop while time is left (logic/health.py) and hand the rest
    on, and a fresh invocation always has the time to start an account's check."""
    from meetbridge.logic import health

    [mapping] = [mapping["Properties"] for mapping in of_type(cfn_resources, "AWS::Lambda::EventSourceMapping").values()
                 if mapping["Properties"]["FunctionName"]["Ref"] == "HealthFunction"]
    timeout = cfn_resources["HealthFunction"]["Properties"]["Timeout"]
    assert mapping["BatchSize"] * health.ACCOUNT_MESSAGE_SECONDS <= timeout
    assert health.ACCOUNT_SECONDS + health.LOOKUP_SECONDS + health.FINISH_SECONDS < timeout


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
    # SAM grants the function's role the send for its own destination; besides it, only the start queue's
    # hand-over sends.
    sends = [
        get_att_target(statement["Resource"])
        for statement in allow_statements(cfn_resources, "AutoStartFunction")
        if "sqs:SendMessage" in as_list(statement["Action"])
    ]
    assert sorted(sends) == ["SchedulerDeadLetterQueue", "StartQueue"]


def test_every_rule_target_retries_then_dead_letters_to_a_queue_that_lets_the_rule_send(cfn_resources):
    policies = of_type(cfn_resources, "AWS::SQS::QueuePolicy").values()
    rules = of_type(cfn_resources, "AWS::Events::Rule")
    assert rules
    for rule_name, rule in rules.items():
        for target in rule["Properties"]["Targets"]:
            retry = target.get("RetryPolicy", {})
            assert retry.get("MaximumEventAgeInSeconds") and retry.get("MaximumRetryAttempts"), (rule_name, target)
            dead_letters = get_att_target(target["DeadLetterConfig"]["Arn"])
            assert cfn_resources[dead_letters]["Type"] == "AWS::SQS::Queue"
            allowed = [
                statement
                for policy in policies if {"Ref": dead_letters} in policy["Properties"]["Queues"]
                for statement in as_list(policy["Properties"]["PolicyDocument"]["Statement"])
                if statement["Effect"] == "Allow" and statement["Principal"] == {"Service": "events.amazonaws.com"}
                and "sqs:SendMessage" in as_list(statement["Action"])
                and statement["Resource"] == {"Fn::GetAtt": [dead_letters, "Arn"]}
                and {"Fn::GetAtt": [rule_name, "Arn"]} in as_list(statement["Condition"]["ArnEquals"]["aws:SourceArn"])
            ]
            assert allowed, f"{rule_name}: EventBridge may not send to its dead-letter queue {dead_letters}"


def _scheduled(cfn_resources: dict[str, Any]) -> dict[str, str]:
    """{the function a schedule rule targets: its expression}."""
    return {target["Arn"]["Fn::GetAtt"][0]: rule["Properties"]["ScheduleExpression"]
            for rule in of_type(cfn_resources, "AWS::Events::Rule").values()
            if rule["Properties"].get("ScheduleExpression") for target in rule["Properties"]["Targets"]}


def test_the_outbox_sweeper_runs_every_minute_and_the_health_checks_every_hour(cfn_resources):
    assert _scheduled(cfn_resources) == {"OutboxSweeperFunction": "rate(1 minute)", "HealthFunction": "rate(1 hour)"}


# --- least privilege ------------------------------------------------------------
# That each role grants exactly what its function's code paths use is derived from running them:
# tests/integration/test_role_grants_are_used.py. Here: the shapes no grant may take.


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


@pytest.mark.parametrize("function_name", sorted(FUNCTIONS))
def test_no_action_is_granted_by_wildcard(cfn_resources, function_name):
    for statement in allow_statements(cfn_resources, function_name):
        assert not any("*" in action for action in as_list(statement["Action"])), statement


def test_the_table_index_is_queried_only_through_its_own_arn(cfn_resources):
    queries = [
        arn
        for statement in allow_statements(cfn_resources, "OAuthFunction")
        if "dynamodb:Query" in as_list(statement["Action"])
        for arn in as_list(statement["Resource"])
    ]
    assert queries == [{"Fn::Sub": "${Table.Arn}/index/gsi1"}]


# Actions AWS authorizes on the resource "*" only: an SMS published to a phone number names no topic, and the
# opt-out check names nothing.
ONLY_GRANTABLE_ON_EVERY_RESOURCE = {"sns:Publish", "sns:CheckIfPhoneNumberIsOptedOut"}


@pytest.mark.parametrize("function_name", sorted(FUNCTIONS))
def test_no_inline_statement_grants_every_resource(cfn_resources, function_name):
    for statement in allow_statements(cfn_resources, function_name):
        if "*" in as_list(statement["Resource"]):
            assert set(as_list(statement["Action"])) <= ONLY_GRANTABLE_ON_EVERY_RESOURCE, statement


@pytest.mark.parametrize("function_name", sorted(FUNCTIONS))
def test_only_lambda_execution_managed_policies_are_attached(cfn_resources, function_name):
    # Managed policies bypass the statement checks above, so only SAM's own execution policies are allowed.
    expected = {BASIC_EXECUTION_POLICY} | ({SQS_EXECUTION_POLICY} if function_name in SQS_CONSUMERS else set())
    assert set(role_of(cfn_resources, function_name).get("ManagedPolicyArns", [])) == expected
