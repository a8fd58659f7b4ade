"""The local cloud's own AWS semantics, against a tiny generated app (not meetbridge's code).

API Gateway payload 2.0 in and out, EventBridge -> SQS -> Lambda with partial batch failures and
redrive, Scheduler -> async Lambda with retries and an OnFailure destination: each is what the
real services do, so the app can rely on it locally.
"""

import base64
import datetime as dt
import json
import os
import re
import textwrap
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from e2e_support import launch, request, running_stack

pytestmark = pytest.mark.e2e

TEMPLATE = """\
AWSTemplateFormatVersion: '2010-09-09'
Transform: AWS::Serverless-2016-10-31
Parameters:
  Mode: {Type: String, Default: fast}
  SenderEmail: {Type: String, Default: robot@example.com}
Conditions:
  IsFast: !Equals [!Ref Mode, fast]
Globals:
  Function:
    Runtime: python3.13
    Timeout: 7
    MemorySize: 256
    Environment:
      Variables:
        BUS: !Ref Bus
        MODE: !If [IsFast, quick, slow]
        SENDER: !Ref SenderEmail
Resources:
  Api:
    Type: AWS::Serverless::HttpApi
  Echo:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: fns/echo
      Handler: app.handle
      Environment:
        Variables:
          TIMER_ARN: !GetAtt Timer.Arn
          GROUP: !Ref Group
          PUBLIC_BASE_URL: !Sub https://${Api}.execute-api.${AWS::Region}.${AWS::URLSuffix}
      Policies:
        - EventBridgePutEventsPolicy: {EventBusName: !Ref Bus}
        - Statement:
            - Effect: Allow
              Action: scheduler:CreateSchedule
              Resource: !Sub 'arn:${AWS::Partition}:scheduler:${AWS::Region}:${AWS::AccountId}:schedule/${Group}/*'
            - {Effect: Allow, Action: iam:PassRole, Resource: 'arn:aws:iam::123456789012:role/scheduler'}
      Events:
        Nested: {Type: HttpApi, Properties: {ApiId: !Ref Api, Method: ANY, Path: '/echo/{id}/{proxy+}'}}
        One: {Type: HttpApi, Properties: {ApiId: !Ref Api, Method: GET, Path: '/echo/{id}'}}
        Literal: {Type: HttpApi, Properties: {ApiId: !Ref Api, Method: GET, Path: /echo/special}}
        Post: {Type: HttpApi, Properties: {ApiId: !Ref Api, Method: POST, Path: '/echo/{id}'}}
  Worker:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: fns/worker
      Handler: app.handle
      Environment:
        Variables:
          WORKER_ONLY: not for Echo
      # One batch at a time: the queue's visibility timeout (1 s, for a quick redrive) is shorter than a batch
      # with a cold start takes, so a second batch in flight would receive its messages again, as on AWS.
      ReservedConcurrentExecutions: 1
      Policies:
        - Statement:
            - {Effect: Allow, Action: ses:SendEmail, Resource: !Sub 'arn:${AWS::Partition}:ses:${AWS::Region}:${AWS::AccountId}:identity/*'}
      Events:
        Work:
          Type: SQS
          Properties:
            Queue: !GetAtt WorkQueue.Arn
            BatchSize: 10
            FunctionResponseTypes: [ReportBatchItemFailures]
  Timer:
    Type: AWS::Serverless::Function
    Properties:
      FunctionName: !Sub ${AWS::StackName}-timer
      CodeUri: fns/timer
      Handler: app.handle
      Policies:
        - Statement:
            - {Effect: Allow, Action: ses:SendEmail, Resource: !Sub 'arn:${AWS::Partition}:ses:${AWS::Region}:${AWS::AccountId}:identity/*'}
      EventInvokeConfig:
        MaximumRetryAttempts: 1
        DestinationConfig:
          OnFailure: {Type: SQS, Destination: !GetAtt FailedQueue.Arn}
  Slow:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: fns/slow
      Handler: app.handle
      Timeout: 2
      ReservedConcurrentExecutions: 1
      Events:
        Any: {Type: HttpApi, Properties: {ApiId: !Ref Api, Method: GET, Path: '/slow/{action}'}}
  Broken:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: fns/broken
      Handler: app.handle
      Events:
        Any: {Type: HttpApi, Properties: {ApiId: !Ref Api, Method: GET, Path: /broken}}
  Bus:
    Type: AWS::Events::EventBus
    Properties: {Name: !Sub '${AWS::StackName}-bus'}
  WorkQueue:
    Type: AWS::SQS::Queue
    Properties:
      VisibilityTimeout: 1
      RedrivePolicy: {deadLetterTargetArn: !GetAtt WorkDeadLetters.Arn, maxReceiveCount: 2}
  WorkDeadLetters:
    Type: AWS::SQS::Queue
  FailedQueue:
    Type: AWS::SQS::Queue
  WorkRule:
    Type: AWS::Events::Rule
    Properties:
      EventBusName: !Ref Bus
      EventPattern: {source: [app], detail-type: [{prefix: work.}]}
      Targets: [{Id: work, Arn: !GetAtt WorkQueue.Arn}]
  WorkFromBus:
    Type: AWS::SQS::QueuePolicy
    Properties:
      Queues: [!Ref WorkQueue]
      PolicyDocument:
        Version: '2012-10-17'
        Statement:
          - {Effect: Allow, Principal: {Service: events.amazonaws.com}, Action: sqs:SendMessage,
             Resource: !GetAtt WorkQueue.Arn, Condition: {ArnEquals: {aws:SourceArn: !GetAtt WorkRule.Arn}}}
  LockedQueue:
    Type: AWS::SQS::Queue
  LockedRule:
    Type: AWS::Events::Rule
    Properties:
      EventBusName: !Ref Bus
      EventPattern: {source: [app], detail-type: [{prefix: locked.}]}
      Targets:
        - {Id: locked, Arn: !GetAtt LockedQueue.Arn, DeadLetterConfig: {Arn: !GetAtt Undelivered.Arn},
           RetryPolicy: {MaximumEventAgeInSeconds: 60, MaximumRetryAttempts: 1}}
  Undelivered:
    Type: AWS::SQS::Queue
  UndeliveredFromBus:
    Type: AWS::SQS::QueuePolicy
    Properties:
      Queues: [!Ref Undelivered]
      PolicyDocument:
        Version: '2012-10-17'
        Statement:
          - {Effect: Allow, Principal: {Service: events.amazonaws.com}, Action: sqs:SendMessage,
             Resource: !GetAtt Undelivered.Arn, Condition: {ArnEquals: {aws:SourceArn: !GetAtt LockedRule.Arn}}}
  Group:
    Type: AWS::Scheduler::ScheduleGroup
    Properties: {Name: !Sub '${AWS::StackName}-jobs'}
"""

MAIL = """
import os, boto3
def mail(subject, text):
    boto3.client("ses").send_email(
        Source=os.environ["SENDER"], Destination={"ToAddresses": ["log@example.com"]},
        Message={"Subject": {"Data": subject}, "Body": {"Text": {"Data": text}, "Html": {"Data": "<p>" + text}}})
"""

ECHO = MAIL + """
import base64, json, time
def handle(event, context):
    path = event["rawPath"]
    if path.endswith("/boom"):
        raise ValueError("boom")
    if path.endswith("/plain"):
        return {"hello": "world"}
    if path.endswith("/text"):
        return "just text"
    if path.endswith("/binary"):
        return {"statusCode": 201, "headers": {"content-type": "application/octet-stream", "x-n": 7},
                "cookies": ["a=1", "b=2; Path=/"], "body": base64.b64encode(b"\\x00\\xff").decode(),
                "isBase64Encoded": True}
    if path.endswith("/malformed"):
        return {"statusCode": "soon"}
    if path.endswith("/emit"):
        for detail in json.loads(event["body"]):
            boto3.client("events").put_events(Entries=[{"Source": "app", "DetailType": detail.get("type", "work.item"),
                                                        "Detail": json.dumps(detail), "EventBusName": os.environ["BUS"]}])
        return {"statusCode": 202}
    if path.endswith("/sleep"):
        time.sleep(float(event["queryStringParameters"]["s"]))
        return {"pid": os.getpid()}
    if path.endswith("/schedule"):
        spec = json.loads(event["body"])
        boto3.client("scheduler").create_schedule(
            Name=spec["name"], GroupName=os.environ["GROUP"], ScheduleExpression=spec["expression"],
            ScheduleExpressionTimezone=spec["timezone"], FlexibleTimeWindow={"Mode": "OFF"},
            ActionAfterCompletion="DELETE",
            Target={"Arn": os.environ["TIMER_ARN"], "RoleArn": "arn:aws:iam::123456789012:role/scheduler",
                    "Input": json.dumps({"name": spec["name"], "fail": spec.get("fail", False),
                                         "at": "<aws.scheduler.scheduled-time>", "run": "<aws.scheduler.execution-id>",
                                         "arn": "<aws.scheduler.schedule-arn>", "try": "<aws.scheduler.attempt-number>"})})
        return {"statusCode": 201}
    if path.endswith("/forbidden"):  # the default bus: the role allows only the app's own
        try:
            boto3.client("events").put_events(Entries=[{"Source": "app", "DetailType": "x", "Detail": "{}"}])
        except Exception as exc:
            return {"code": exc.response["Error"]["Code"], "message": exc.response["Error"]["Message"]}
        return {"code": None}
    env = {k: os.environ.get(k) for k in ("BUS", "MODE", "TIMER_ARN", "GROUP", "PUBLIC_BASE_URL", "SENDER")}
    if path.endswith("/environment"):
        return {"pid": os.getpid(), "environ": dict(os.environ)}
    ctx = {"function_name": context.function_name, "memory": context.memory_limit_in_mb,
           "arn": context.invoked_function_arn, "request_id": context.aws_request_id,
           "remaining": context.get_remaining_time_in_millis()}
    return {"statusCode": 200, "headers": {"content-type": "application/json"},
            "body": json.dumps({"event": event, "env": env, "context": ctx})}
"""

WORKER = MAIL + """
import json
def handle(event, context):
    failures = []
    for record in event["Records"]:
        envelope = json.loads(record["body"])
        detail = envelope["detail"]
        if detail.get("fail"):
            failures.append({"itemIdentifier": record["messageId"]})
            continue
        mail("work " + detail["name"], json.dumps({"record": {k: v for k, v in record.items() if k != "body"},
                                                    "envelope": envelope}))
    return {"batchItemFailures": failures}
"""

TIMER = MAIL + """
import json
def handle(event, context):
    if event["fail"]:
        raise RuntimeError("timer failed on purpose")
    mail("timer " + event["name"], json.dumps(event))
    return {"ok": True}
"""

SLOW = """
import json, os, time
def handle(event, context):
    action = event["pathParameters"]["action"]
    if action == "hang":
        time.sleep(30)
    if action == "wait":
        time.sleep(1)
    if action == "log":
        print("hello from", context.aws_request_id)
        print(json.dumps({"_aws": {"Timestamp": 0, "CloudWatchMetrics": [{"Namespace": "tiny", "Dimensions": [[]],
                                  "Metrics": [{"Name": "Hellos", "Unit": "Count"}]}]}, "Hellos": 1}))
    return {"pid": os.getpid(), "request_id": context.aws_request_id, "key": os.environ["AWS_ACCESS_KEY_ID"]}
"""

BROKEN = """
raise RuntimeError("settings missing at init")
def handle(event, context):
    return {}
"""

LOCAL_WORKER_CAP = 3
# The one call a test makes on purpose that Echo's role does not allow.
FORBIDDEN = "events:PutEvents on resource: arn:aws:events:us-east-1:123456789012:event-bus/default"


def write_app(root):
    (root / "template.yaml").write_text(TEMPLATE)
    for name, code in (("echo", ECHO), ("worker", WORKER), ("timer", TIMER), ("slow", SLOW), ("broken", BROKEN)):
        (root / "fns" / name).mkdir(parents=True)
        (root / "fns" / name / "app.py").write_text(textwrap.dedent(code))
    return root / "template.yaml"


@pytest.fixture(scope="module")
def cloud(tmp_path_factory):
    root = tmp_path_factory.mktemp("tiny-app")
    template = write_app(root)
    with running_stack(root / "run", "--template", str(template), "--no-seed",
                       "--async-retry-delay", "0.2", "--max-workers", str(LOCAL_WORKER_CAP),
                       expected_denial=FORBIDDEN) as running:
        yield running


def _echo(cloud, path: str, **kwargs):
    resp = request(cloud.api + path, **kwargs)
    assert resp.status == 200, resp
    return resp.json()


def test_a_request_becomes_an_http_api_payload_v2_event(cloud):
    body = _echo(cloud, "/echo/abc?x=1&x=2&q=a%20b", headers={"Cookie": "c1=v1; c2=v2", "X-Custom": "yes"})
    event, context = body["event"], body["context"]
    assert event["version"] == "2.0"
    assert event["routeKey"] == "GET /echo/{id}"
    assert event["rawPath"] == "/echo/abc"
    assert event["rawQueryString"] == "x=1&x=2&q=a%20b"
    assert event["queryStringParameters"] == {"x": "1,2", "q": "a b"}
    assert event["pathParameters"] == {"id": "abc"}
    assert event["cookies"] == ["c1=v1", "c2=v2"]
    assert event["headers"]["x-custom"] == "yes" and "cookie" not in event["headers"]
    assert event["isBase64Encoded"] is False and "body" not in event
    assert event["stageVariables"] is None
    rc = event["requestContext"]
    assert rc["stage"] == "$default" and rc["routeKey"] == "GET /echo/{id}"
    assert rc["http"]["method"] == "GET" and rc["http"]["path"] == "/echo/abc"
    assert rc["http"]["sourceIp"] == "127.0.0.1"
    assert rc["accountId"] == "123456789012" and rc["apiId"] and rc["requestId"]
    assert abs(rc["timeEpoch"] / 1000 - time.time()) < 30
    assert context["function_name"] == "meetbridge-Echo"
    assert context["memory"] == 256
    assert context["arn"].endswith(":function:meetbridge-Echo")
    assert 0 < context["remaining"] <= 7000


def test_routes_prefer_literals_then_parameters_then_greedy(cloud):
    assert _echo(cloud, "/echo/special")["event"]["routeKey"] == "GET /echo/special"
    nested = _echo(cloud, "/echo/abc/d/e")["event"]
    assert nested["routeKey"] == "ANY /echo/{id}/{proxy+}"
    assert nested["pathParameters"] == {"id": "abc", "proxy": "d/e"}
    assert request(cloud.api + "/echo/abc", "DELETE").status == 404


def test_bodies_text_and_binary(cloud):
    text = request(cloud.api + "/echo/abc", "POST", b'{"a": "\xc3\xa9"}', {"Content-Type": "application/json"})
    event = text.json()["event"]
    assert event["body"] == '{"a": "é"}' and event["isBase64Encoded"] is False
    binary = request(cloud.api + "/echo/abc", "POST", b"\x00\xff\xfe", {"Content-Type": "application/octet-stream"})
    event = binary.json()["event"]
    assert event["isBase64Encoded"] is True and base64.b64decode(event["body"]) == b"\x00\xff\xfe"


def test_responses_are_mapped_like_api_gateway(cloud):
    plain = request(cloud.api + "/echo/abc/plain")
    assert (plain.status, plain.json()) == (200, {"hello": "world"})
    assert "application/json" in plain.headers["content-type"]
    assert request(cloud.api + "/echo/abc/text").text == "just text"

    binary = request(cloud.api + "/echo/abc/binary")
    assert binary.status == 201 and binary.body == b"\x00\xff"
    assert binary.headers["x-n"] == "7"

    boom = request(cloud.api + "/echo/abc/boom")
    assert (boom.status, boom.json()) == (500, {"message": "Internal Server Error"})
    malformed = request(cloud.api + "/echo/abc/malformed")
    assert (malformed.status, malformed.json()) == (500, {"message": "Internal Server Error"})
    missing = request(cloud.api + "/nothing/here")
    assert (missing.status, missing.json()) == (404, {"message": "Not Found"})
    assert "ValueError: boom" in cloud.log_path.read_text()  # the traceback goes to the console


def test_cookies_become_separate_set_cookie_headers(cloud):
    import http.client
    import urllib.parse

    parts = urllib.parse.urlsplit(cloud.api)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    conn.request("GET", "/echo/abc/binary")
    cookies = conn.getresponse().headers.get_all("set-cookie")
    conn.close()
    assert cookies == ["a=1", "b=2; Path=/"]


def test_environment_is_resolved_from_the_template(cloud):
    env = _echo(cloud, "/echo/abc")["env"]
    assert env["BUS"] == "meetbridge-bus"
    assert env["MODE"] == "quick"
    assert env["GROUP"] == "meetbridge-jobs"
    assert env["SENDER"] == "robot@example.com"
    assert env["TIMER_ARN"] == "arn:aws:lambda:us-east-1:123456789012:function:meetbridge-timer"
    assert env["PUBLIC_BASE_URL"] == cloud.api  # the local gateway, not the template's execute-api URL


def test_events_reach_the_queue_and_failed_items_are_redriven(cloud):
    resp = request(cloud.api + "/echo/abc/emit", "POST",
                   json.dumps([{"name": "ok-1"}, {"name": "bad-1", "fail": True}, {"name": "ok-2"}]).encode())
    assert resp.status == 202, resp

    done = cloud.wait_for_emails(2, to="log@example.com", mentioning="work ok-")
    assert sorted(m["subject"] for m in done) == ["work ok-1", "work ok-2"]
    delivered = json.loads(done[0]["text"])
    assert done[0]["html"].startswith("<p>")
    envelope, record = delivered["envelope"], delivered["record"]
    assert {"version", "id", "detail-type", "source", "account", "time", "region", "resources", "detail"} <= set(envelope)
    assert envelope["account"] == "123456789012" and envelope["detail-type"] == "work.item"
    assert record["eventSource"] == "aws:sqs" and record["eventSourceARN"].endswith(":meetbridge-WorkQueue")
    assert record["awsRegion"] == "us-east-1" and record["md5OfBody"] and record["receiptHandle"]
    assert record["attributes"]["ApproximateReceiveCount"] == "1" and "SentTimestamp" in record["attributes"]

    sqs = cloud.aws("sqs")
    dlq = cloud.info["resources"]["WorkDeadLetters"]

    def redriven():
        got = sqs.receive_message(QueueUrl=dlq, MaxNumberOfMessages=10).get("Messages", [])
        return got or None

    dead = cloud.wait_for("the failing item in the dead-letter queue", redriven, timeout=15)
    assert [json.loads(m["Body"])["detail"]["name"] for m in dead] == ["bad-1"]
    assert len(cloud.emails(to="log@example.com", mentioning="work ok-")) == 2  # successes were not redone


def test_an_event_its_target_queue_does_not_let_in_goes_to_the_target_dead_letter_queue(cloud):
    # The LockedQueue has no policy for the bus: EventBridge accepts the event, cannot deliver it, and
    # sends it to the target's DeadLetterConfig, whose policy lets the rule send.
    resp = request(cloud.api + "/echo/abc/emit", "POST", json.dumps([{"name": "kept", "type": "locked.item"}]).encode())
    assert resp.status == 202, resp
    sqs = cloud.aws("sqs")

    def undelivered():
        return sqs.receive_message(QueueUrl=cloud.info["resources"]["Undelivered"], MaxNumberOfMessages=10,
                                   MessageAttributeNames=["All"]).get("Messages") or None

    [dead] = cloud.wait_for("the event in the target's dead-letter queue", undelivered, timeout=15)
    assert json.loads(dead["Body"])["detail"] == {"name": "kept", "type": "locked.item"}
    attributes = {name: value["StringValue"] for name, value in dead["MessageAttributes"].items()}
    assert attributes["ERROR_CODE"] == "NO_PERMISSIONS"
    assert attributes["RULE_ARN"].endswith(":rule/meetbridge-bus/meetbridge-LockedRule")
    assert attributes["TARGET_ARN"].endswith(":meetbridge-LockedQueue")
    assert sqs.receive_message(QueueUrl=cloud.info["resources"]["LockedQueue"]).get("Messages") is None


def test_due_schedules_fire_once_async_and_are_deleted(cloud):
    berlin = ZoneInfo("Europe/Berlin")
    due = (dt.datetime.now(berlin) + dt.timedelta(seconds=2)).replace(microsecond=0)
    spec = {"name": "soon", "expression": f"at({due:%Y-%m-%dT%H:%M:%S})", "timezone": "Europe/Berlin"}
    assert request(cloud.api + "/echo/abc/schedule", "POST", json.dumps(spec).encode()).status == 201
    assert cloud.emails(mentioning="timer soon") == []

    fired = cloud.wait_for_emails(1, to="log@example.com", mentioning="timer soon")
    assert dt.datetime.now(dt.timezone.utc) >= due - dt.timedelta(seconds=1)
    event = json.loads(fired[0]["text"])
    assert event["at"] == due.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert event["arn"].endswith(":schedule/meetbridge-jobs/soon") and event["try"] == "1" and event["run"]
    scheduler = cloud.aws("scheduler")
    cloud.wait_for("the fired schedule to be deleted",
                   lambda: not scheduler.list_schedules(GroupName="meetbridge-jobs")["Schedules"])
    time.sleep(1)
    assert len(cloud.emails(mentioning="timer soon")) == 1


def test_a_failing_scheduled_invocation_is_retried_then_sent_to_on_failure(cloud):
    spec = {"name": "doomed", "expression": "at(2020-01-01T00:00:00)", "timezone": "UTC", "fail": True}
    assert request(cloud.api + "/echo/abc/schedule", "POST", json.dumps(spec).encode()).status == 201

    sqs = cloud.aws("sqs")
    failed_queue = cloud.info["resources"]["FailedQueue"]
    messages = cloud.wait_for(
        "the OnFailure record",
        lambda: sqs.receive_message(QueueUrl=failed_queue, MaxNumberOfMessages=10).get("Messages"),
        timeout=15,
    )
    record = json.loads(messages[0]["Body"])
    assert record["requestContext"]["condition"] == "RetriesExhausted"
    assert record["requestContext"]["approximateInvokeCount"] == 2  # MaximumRetryAttempts: 1
    assert record["requestContext"]["functionArn"].endswith(":function:meetbridge-timer:$LATEST")
    assert record["requestPayload"]["name"] == "doomed"
    assert record["responseContext"]["functionError"] == "Unhandled"
    assert record["responsePayload"]["errorType"] == "RuntimeError"
    assert record["responsePayload"]["errorMessage"] == "timer failed on purpose"


# --- each function in worker processes of its own ------------------------------------------------


def _health(cloud, logical_id):
    return request(cloud.api + "/_local/health").json()["functions"][logical_id]


def _parallel(urls):
    with ThreadPoolExecutor(len(urls)) as pool:
        return list(pool.map(request, urls))


def test_each_function_runs_in_a_process_of_its_own_and_a_warm_one_is_reused(cloud):
    echo = [_echo(cloud, "/echo/abc/environment")["pid"] for _ in range(3)]
    slow = request(cloud.api + "/slow/fast").json()["pid"]
    assert len(set(echo)) == 1  # warm: one worker served the three in turn
    assert len({echo[0], slow, cloud.info["pid"]}) == 3
    assert echo[0] in _health(cloud, "Echo")["pids"]


def test_concurrent_invocations_start_more_workers_up_to_the_local_cap(cloud):
    answers = _parallel([cloud.api + "/echo/abc/sleep?s=1.5"] * (LOCAL_WORKER_CAP + 2))
    assert all(a.status == 200 for a in answers), answers
    pids = {a.json()["pid"] for a in answers}
    assert 1 < len(pids) <= LOCAL_WORKER_CAP
    health = _health(cloud, "Echo")
    assert health["max_workers"] == LOCAL_WORKER_CAP and 1 < health["workers"] <= LOCAL_WORKER_CAP


def test_reserved_concurrency_limits_the_workers(cloud):
    answers = _parallel([cloud.api + "/slow/wait"] * 3)
    assert all(a.status == 200 for a in answers), answers
    assert len({a.json()["pid"] for a in answers}) == 1  # ReservedConcurrentExecutions: 1
    assert _health(cloud, "Slow")["max_workers"] == 1


def test_a_function_sees_only_its_own_variables_and_its_own_role(cloud):
    environ = _echo(cloud, "/echo/abc/environment")["environ"]
    assert environ["BUS"] == "meetbridge-bus" and environ["TIMER_ARN"].endswith(":function:meetbridge-timer")
    assert "WORKER_ONLY" not in environ  # the Worker function's variable
    assert "PYTHONUNBUFFERED" not in environ  # the parent's (set by launch())
    assert environ["AWS_LAMBDA_FUNCTION_NAME"] == "meetbridge-Echo"
    assert environ["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] == "256" and environ["_HANDLER"] == "app.handle"
    assert environ["AWS_ENDPOINT_URL"] == cloud.info["aws_endpoint_url"]
    assert environ["LAMBDA_TASK_ROOT"].endswith("/fns/echo")
    slow_key = request(cloud.api + "/slow/fast").json()["key"]
    assert environ["AWS_ACCESS_KEY_ID"] != slow_key  # each function has its own role's credentials


def test_a_worker_past_its_timeout_is_killed_and_replaced(cloud):
    before = request(cloud.api + "/slow/fast").json()["pid"]
    started = time.monotonic()
    hung = request(cloud.api + "/slow/hang")
    assert (hung.status, hung.json()) == (500, {"message": "Internal Server Error"})
    assert time.monotonic() - started < 10  # Timeout: 2, not the handler's 30 s sleep
    log = cloud.log_path.read_text()
    assert "Task timed out after 2.00 seconds" in log
    assert re.search(r"Slow: \S+ REPORT RequestId: \S+\tDuration: 2000.00 ms\t.*\tStatus: timeout", log)
    after = request(cloud.api + "/slow/fast").json()["pid"]
    assert after != before
    with pytest.raises(ProcessLookupError):
        os.kill(before, 0)


def test_an_exception_at_init_is_an_init_error(cloud):
    answer = request(cloud.api + "/broken")
    assert (answer.status, answer.json()) == (500, {"message": "Internal Server Error"})
    log = cloud.log_path.read_text()
    assert "RuntimeError: settings missing at init" in log
    assert re.search(r"Broken: init INIT_REPORT Init Duration: [\d.]+ ms\tPhase: init\tStatus: error\t"
                     r"Error Type: RuntimeError", log), log[-3000:]
    assert _health(cloud, "Broken")["workers"] == 0


def test_log_lines_name_the_function_and_invocation_and_metrics_go_to_their_file(cloud):
    first = request(cloud.api + "/slow/log").json()
    second = request(cloud.api + "/slow/log").json()
    log = cloud.log_path.read_text()
    for answer in (first, second):
        rid = answer["request_id"]
        assert f"Slow: {rid} hello from {rid}" in log
        assert f"Slow: {rid} START RequestId: {rid}" in log
        assert re.search(rf"Slow: {rid} REPORT RequestId: {rid}\tDuration: [\d.]+ ms\tBilled Duration: \d+ ms\t"
                         r"Memory Size: 256 MB\tMax Memory Used: \d+ MB", log)
    assert "Hellos" not in log
    metrics = [json.loads(line) for line in Path(cloud.info["metrics_file"]).read_text().splitlines()]
    assert sum(1 for m in metrics if m.get("Hellos") == 1) == 2


def test_a_cold_start_reports_its_init_duration(cloud):
    for _ in range(2):
        _echo(cloud, "/echo/abc")
    log = cloud.log_path.read_text()
    reports = re.findall(r"Echo: \S+ (REPORT RequestId: .*)", log)
    cold = [r for r in reports if "Init Duration" in r]
    assert cold and len(cold) == _health(cloud, "Echo")["cold_starts"]
    assert len(reports) > len(cold)  # warm invocations have no Init Duration
    assert _health(cloud, "Echo")["last_init_ms"] > 0


def test_workers_exit_when_the_stack_is_killed(tmp_path):
    (tmp_path / "app").mkdir()
    template = write_app(tmp_path / "app")
    stack = launch(tmp_path / "run", "--template", str(template), "--no-seed")
    try:
        pid = _echo(stack, "/echo/abc/environment")["pid"]
        stack.process.kill()  # no chance to stop its workers
        stack.process.wait(10)
        stack.wait_for("the worker to exit", lambda: not _running(pid), timeout=10)
    finally:
        stack.stop()


def _running(pid):
    """True while the process exists and has not exited (an exited one may wait as a zombie for its reaper)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat")  # Linux: tells a zombie apart
    return not stat.exists() or stat.read_text().rsplit(")", 1)[1].split()[0] != "Z"


def test_a_call_the_role_does_not_allow_is_refused_as_aws_refuses_it(cloud):
    refused = _echo(cloud, "/echo/1/forbidden")
    assert refused["code"] == "AccessDeniedException"
    assert re.fullmatch(r"User: arn:aws:sts::123456789012:assumed-role/\S+ is not authorized to perform: "
                        + re.escape(FORBIDDEN) + " because no identity-based policy allows the events:PutEvents action",
                        refused["message"]), refused["message"]
    cloud.wait_for("the refusal in the log", lambda: FORBIDDEN in cloud.log_path.read_text(errors="replace"))
