"""The local cloud's own AWS semantics, against a tiny generated app (not meetbridge's code).

API Gateway payload 2.0 in and out, EventBridge -> SQS -> Lambda with partial batch failures and
redrive, Scheduler -> async Lambda with retries and an OnFailure destination: each is what the
real services do, so the app can rely on it locally.
"""

import base64
import datetime as dt
import json
import textwrap
import time
from zoneinfo import ZoneInfo

import pytest
from e2e_support import request, running_stack

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
      EventInvokeConfig:
        MaximumRetryAttempts: 1
        DestinationConfig:
          OnFailure: {Type: SQS, Destination: !GetAtt FailedQueue.Arn}
  Bus:
    Type: AWS::Events::EventBus
    Properties: {Name: !Sub '${AWS::StackName}-bus'}
  WorkQueue:
    Type: AWS::SQS::Queue
    Properties:
      VisibilityTimeout: 60
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
import base64, json
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
            boto3.client("events").put_events(Entries=[{"Source": "app", "DetailType": "work.item",
                                                        "Detail": json.dumps(detail), "EventBusName": os.environ["BUS"]}])
        return {"statusCode": 202}
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
    env = {k: os.environ.get(k) for k in ("BUS", "MODE", "TIMER_ARN", "GROUP", "PUBLIC_BASE_URL", "SENDER")}
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


@pytest.fixture(scope="module")
def cloud(tmp_path_factory):
    root = tmp_path_factory.mktemp("tiny-app")
    (root / "template.yaml").write_text(TEMPLATE)
    for name, code in (("echo", ECHO), ("worker", WORKER), ("timer", TIMER)):
        (root / "fns" / name).mkdir(parents=True)
        (root / "fns" / name / "app.py").write_text(textwrap.dedent(code))
    with running_stack(root / "run", "--template", str(root / "template.yaml"), "--no-seed",
                       "--sqs-backoff", "1", "--async-retry-delay", "0.2") as running:
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
