"""Each function's execution-role policy, enforced on every AWS call its code makes.

moto enforces no IAM by default, and its opt-in enforcement knows neither SAM policy templates nor
which function is calling. So the statements come from the template itself (after the SAM
transform, run offline as `sam deploy` would) and every botocore call is checked against them
before it leaves the process: its IAM action and resource ARN(s), derived from the call's
parameters the way AWS authorizes them (each item of a transaction, iam:PassRole for the role a
schedule is given, the key behind a KMS alias...).

The check wraps `BaseClient._make_api_call`, the one method every botocore client call goes
through (boto3 clients, meetbridge.aws's client, pynamodb's connection, Powertools' clients),
including clients of sessions created before the guard was installed, which a handler registered
through botocore's event system would miss.

A denied call raises the ClientError AWS gives: `AccessDeniedException` for JSON protocols,
`AccessDenied` for query protocols (SES, SQS), with AWS's message.
"""

import contextlib
import contextvars
import copy
import functools
import logging
import os
import re
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from email.utils import parseaddr
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml
from botocore.client import BaseClient

# The Lambda service, not the function's code, uses what these grant (logs, polling the queue).
LAMBDA_SERVICE_POLICIES = ("AWSLambdaBasicExecutionRole", "AWSLambdaSQSQueueExecutionRole")


# --- the template's statements ----------------------------------------------------------------


# The SAM translator is imported where the template is read, not with the guard: the local stack's
# worker processes install the guard before their handler's init, and must not pay for it.


class _OfflineManagedPolicyLoader:
    """Stands in for the IAM-backed loader, so the transform needs no credentials or network.

    The translator resolves AWS managed policy names from its bundled map first and only asks this
    for names it does not know, which it then passes through unchanged.
    """

    def load(self) -> dict[str, str]:
        return {}


def sam_template(template_path: Path) -> dict[str, Any]:
    """The template with !Ref, !GetAtt, !Sub... read as their long forms."""
    from samtranslator.yaml_helper import intrinsics_multi_constructor

    class TemplateLoader(yaml.SafeLoader):
        pass

    TemplateLoader.add_multi_constructor("!", intrinsics_multi_constructor)
    return yaml.load(Path(template_path).read_text(), Loader=TemplateLoader)


@functools.cache
def transformed_resources(template_path: Path) -> dict[str, Any]:
    """The CloudFormation resources the SAM transform makes of the template, produced offline."""
    from samtranslator.translator.transform import transform

    packaged = copy.deepcopy(sam_template(template_path))
    # The translator accepts only S3 code locations, as `sam package` would have written them.
    for resource in packaged["Resources"].values():
        properties = resource.get("Properties", {})
        for uri_property in ("CodeUri", "ContentUri"):
            if isinstance(properties.get(uri_property), str):
                properties[uri_property] = f"s3://artifacts/{properties[uri_property]}"
    # The translator reads the region (for the partition) from a boto3 session; no credentials are used.
    saved = {name: os.environ.get(name) for name in ("AWS_DEFAULT_REGION", "AWS_PROFILE")}
    os.environ["AWS_DEFAULT_REGION"] = saved["AWS_DEFAULT_REGION"] or "us-east-1"
    os.environ.pop("AWS_PROFILE", None)
    try:
        return transform(packaged, {}, _OfflineManagedPolicyLoader())["Resources"]
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def function_statements(template_path: Path, logical_id: str) -> list[dict]:
    """The function's execution-role policy statements after the SAM transform
    (policy templates like DynamoDBCrudPolicy/KMSDecryptPolicy/EventBridgePutEventsPolicy/
    AWSSecretsManagerGetSecretValuePolicy expanded, inline Statement policies included),
    intrinsics NOT resolved."""
    resources = transformed_resources(Path(template_path))
    role_id = resources[logical_id]["Properties"]["Role"]["Fn::GetAtt"][0]
    role = resources[role_id]["Properties"]
    for managed in role.get("ManagedPolicyArns", []):
        if not (isinstance(managed, str) and managed.rsplit("/", 1)[-1] in LAMBDA_SERVICE_POLICIES):
            raise ValueError(f"{logical_id}: managed policy {managed!r} cannot be checked offline")
    return [copy.deepcopy(statement)
            for policy in role.get("Policies", [])
            for statement in _as_list(policy["PolicyDocument"]["Statement"])]


def resolve(value: Any, refs: Mapping[str, str], attributes: Mapping[str, str]) -> Any:
    """`value` with its intrinsics replaced: `refs` gives what `Ref X` is (pseudo parameters such as
    AWS::Region included), `attributes` what `GetAtt X.Attr` is, keyed "X.Attr"."""
    if isinstance(value, list):
        return [resolve(item, refs, attributes) for item in value]
    if not isinstance(value, dict):
        return value
    if "Ref" in value:
        return refs[value["Ref"]]
    if "Fn::GetAtt" in value:
        target = value["Fn::GetAtt"]
        return attributes[target if isinstance(target, str) else ".".join(target)]
    if "Fn::Sub" in value:
        text, variables = (value["Fn::Sub"], {}) if isinstance(value["Fn::Sub"], str) else value["Fn::Sub"]
        variables = {name: resolve(variable, refs, attributes) for name, variable in variables.items()}

        def substitute(match: re.Match) -> str:
            name = match.group(1)
            if name in variables:
                return variables[name]
            return attributes[name] if "." in name else refs[name]

        return re.sub(r"\$\{([^}!]+)\}", substitute, text)
    if "Fn::Select" in value:
        index, items = value["Fn::Select"]
        return resolve(items, refs, attributes)[int(index)]
    if "Fn::Split" in value:
        separator, text = value["Fn::Split"]
        return resolve(text, refs, attributes).split(separator)
    if "Fn::Join" in value:
        separator, parts = value["Fn::Join"]
        return separator.join(resolve(parts, refs, attributes))
    return {key: resolve(item, refs, attributes) for key, item in value.items()}


# --- the guard ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Identity:
    principal_arn: str
    statements: tuple[dict, ...]

    @property
    def account(self) -> str:
        return self.principal_arn.split(":")[4]

    @property
    def partition(self) -> str:
        return self.principal_arn.split(":")[1]


@dataclass(frozen=True)
class Denial:
    principal_arn: str
    action: str
    resource: str
    explicit: bool

    def __str__(self) -> str:
        return _denied_message(self)


@dataclass(frozen=True)
class Allowance:
    principal_arn: str
    action: str
    resource: str


# What the guard checks against: the acting function of this context (the integration tests run
# every function in one process), else the process's own (a worker process of the local stack).
_acting: contextvars.ContextVar[Identity | None] = contextvars.ContextVar("iam_acting", default=None)
_process_identity: Identity | None = None
# Set while the guard itself asks AWS something (the key behind an alias).
_unchecked: contextvars.ContextVar[bool] = contextvars.ContextVar("iam_unchecked", default=False)
_lock = threading.Lock()
log = logging.getLogger("infra.local.iam")
# Every refusal, for a test session to report: handlers swallow some errors (batch reports, pages).
denials: list[Denial] = []
# Every allowed check while `recording_allowed()` is on, for a test to derive what each role's grants
# are used for (off otherwise: a local stack worker runs for hours).
allowed: list[Allowance] = []
_recording_allowed = False
_original_make_api_call: Callable | None = None


def install_guard(principal_arn: str, statements: list[dict]) -> None:
    """Process-wide: every botocore client call made afterwards is checked against `statements`
    (resolved: resources are ARN strings) as `principal_arn`; a call they do not allow raises the
    ClientError AWS gives."""
    global _process_identity
    _process_identity = identity(principal_arn, statements)
    _wrap_clients()


def identity(principal_arn: str, statements: list[dict]) -> Identity:
    for statement in statements:
        for resource in _as_list(statement.get("Resource", [])):
            if not isinstance(resource, str):
                raise ValueError(f"unresolved resource {resource!r}: resolve intrinsics first (iam.resolve)")
    return Identity(principal_arn, tuple(copy.deepcopy(statements)))


@contextlib.contextmanager
def acting_as(principal_arn: str, statements: list[dict]) -> Iterator[None]:
    """Calls made in this context (this thread or task) are checked as this principal."""
    _wrap_clients()
    token = _acting.set(identity(principal_arn, statements))
    try:
        yield
    finally:
        _acting.reset(token)


def _wrap_clients() -> None:
    global _original_make_api_call
    with _lock:
        if _original_make_api_call is not None:
            return
        _original_make_api_call = BaseClient._make_api_call

        @functools.wraps(_original_make_api_call)
        def checked_make_api_call(client: BaseClient, operation_name: str, api_params: dict) -> dict:
            who = _acting.get() or _process_identity
            if who is None or _unchecked.get():
                return _original_make_api_call(client, operation_name, api_params)
            if _key_named_by_ciphertext(client, operation_name, api_params):
                # AWS authorizes against the key the ciphertext names, which only KMS can read: the
                # answer names it, and is checked before the caller sees it.
                response = _original_make_api_call(client, operation_name, api_params)
                _authorize(client, who, operation_name, [("kms:Decrypt", [response["KeyId"]])])
                return response
            _authorize(client, who, operation_name, required(client, who, operation_name, api_params))
            return _original_make_api_call(client, operation_name, api_params)

        BaseClient._make_api_call = checked_make_api_call


def _key_named_by_ciphertext(client: BaseClient, operation_name: str, api_params: dict) -> bool:
    return (client.meta.service_model.signing_name, operation_name) == ("kms", "Decrypt") and not api_params.get("KeyId")


def _authorize(client: BaseClient, who: Identity, operation_name: str, needs: list[tuple[str, list[str]]]) -> None:
    for action, resources in needs:
        for resource in resources:
            verdict = evaluate(who.statements, action, resource)
            if verdict == "allow":
                if _recording_allowed:
                    # list.append is atomic under the GIL: no lock on the path every call takes.
                    allowed.append(Allowance(who.principal_arn, action, resource))
                continue
            denial = Denial(who.principal_arn, action, resource, explicit=verdict == "deny")
            with _lock:
                denials.append(denial)
            # In a local stack worker this line is the test suite's evidence (the function may swallow the error).
            log.warning("%s", _denied_message(denial))
            query_protocol = client.meta.service_model.protocol in ("query", "ec2")
            code = "AccessDenied" if query_protocol else "AccessDeniedException"
            status = 400 if client.meta.service_model.protocol == "json" else 403
            error = {"Error": {"Code": code, "Message": _denied_message(denial)},
                     "ResponseMetadata": {"HTTPStatusCode": status}}
            raise client.exceptions.from_code(code)(error, operation_name)


def _denied_message(denial: Denial) -> str:
    reason = ("with an explicit deny in an identity-based policy" if denial.explicit
              else f"because no identity-based policy allows the {denial.action} action")
    return (f"User: {denial.principal_arn} is not authorized to perform: {denial.action} "
            f"on resource: {denial.resource} {reason}")


# --- policy evaluation ---------------------------------------------------------------------------


def evaluate(statements: tuple[dict, ...] | list[dict], action: str, resource: str) -> str:
    """'deny' (an explicit Deny matches), 'allow' (an Allow matches, no Deny does) or 'implicit'."""
    verdict = "implicit"
    for statement in statements:
        if not _matches_action(statement, action):
            continue
        if not any(_wildcard_match(pattern, resource, case_sensitive=True)
                   for pattern in _as_list(statement.get("Resource", []))):
            continue
        if statement["Effect"] == "Deny":
            return "deny"
        verdict = "allow"
    return verdict


def _matches_action(statement: dict, action: str) -> bool:
    if "NotAction" in statement:
        return not any(_wildcard_match(pattern, action, case_sensitive=False)
                       for pattern in _as_list(statement["NotAction"]))
    return any(_wildcard_match(pattern, action, case_sensitive=False) for pattern in _as_list(statement["Action"]))


@functools.lru_cache(maxsize=1024)
def _pattern(pattern: str, case_sensitive: bool) -> re.Pattern:
    # IAM wildcards: * any run of characters, ? one character; nothing else is special.
    body = "".join(".*" if char == "*" else "." if char == "?" else re.escape(char) for char in pattern)
    return re.compile(body, 0 if case_sensitive else re.IGNORECASE)


def _wildcard_match(pattern: str, value: str, case_sensitive: bool) -> bool:
    return _pattern(pattern, case_sensitive).fullmatch(value) is not None


def _as_list(value: Any) -> list:
    return value if isinstance(value, list) else [value]


# --- what a call needs: its action(s) and resource ARN(s) ---------------------------------------


def required(client: BaseClient, who: Identity, operation_name: str, params: dict) -> list[tuple[str, list[str]]]:
    """The (action, resource ARNs) pairs AWS authorizes for this call."""
    service = client.meta.service_model.signing_name
    where = _Where(who, client.meta.region_name)
    derive = _RESOURCES.get(service)
    if derive is None:
        return [(f"{service}:{operation_name}", ["*"])]
    return derive(client, where, operation_name, params)


@dataclass(frozen=True)
class _Where:
    """Who calls, and where: the region of the client, the partition and account of the principal."""

    who: Identity
    region: str

    @property
    def partition(self) -> str:
        return self.who.partition

    @property
    def account(self) -> str:
        return self.who.account

    def arn(self, service: str, resource: str) -> str:
        return f"arn:{self.partition}:{service}:{self.region}:{self.account}:{resource}"


def _dynamodb(client, where: _Where, operation: str, params: dict) -> list[tuple[str, list[str]]]:
    def table(name: str) -> str:
        return name if name.startswith("arn:") else where.arn("dynamodb", f"table/{name}")

    if operation in ("TransactWriteItems", "TransactGetItems"):
        # AWS authorizes each item by its own action; there is no permission for the transaction.
        actions = {"Put": "PutItem", "Update": "UpdateItem", "Delete": "DeleteItem",
                   "ConditionCheck": "ConditionCheckItem", "Get": "GetItem"}
        return [(f"dynamodb:{actions[kind]}", [table(request["TableName"])])
                for item in params.get("TransactItems", []) for kind, request in item.items()]
    if operation in ("BatchGetItem", "BatchWriteItem"):
        return [(f"dynamodb:{operation}", [table(name) for name in params.get("RequestItems", {})])]
    if "TableName" not in params:
        return [(f"dynamodb:{operation}", ["*"])]
    arn = table(params["TableName"])
    if params.get("IndexName"):
        arn = f"{arn}/index/{params['IndexName']}"
    return [(f"dynamodb:{operation}", [arn])]


def _kms(client, where: _Where, operation: str, params: dict) -> list[tuple[str, list[str]]]:
    key = params.get("KeyId")
    if key is None:
        return [(f"kms:{operation}", ["*"])]
    if key.startswith("arn:") and ":key/" in key:
        arn = key
    elif key.startswith("alias/") or ":alias/" in key:
        arn = _key_behind_alias(client, key)
    else:
        arn = where.arn("kms", f"key/{key}")
    return [(f"kms:{operation}", [arn])]


def _key_behind_alias(client: BaseClient, alias: str) -> str:
    # AWS authorizes a call made through an alias against the key it names.
    token = _unchecked.set(True)
    try:
        return client.describe_key(KeyId=alias)["KeyMetadata"]["Arn"]
    finally:
        _unchecked.reset(token)


def _events(client, where: _Where, operation: str, params: dict) -> list[tuple[str, list[str]]]:
    def bus(name: str) -> str:
        return name if name.startswith("arn:") else where.arn("events", f"event-bus/{name}")

    if operation == "PutEvents":
        return [("events:PutEvents", sorted({bus(entry.get("EventBusName") or "default")
                                              for entry in params.get("Entries", [])}))]
    return [(f"events:{operation}", [bus(params.get("EventBusName") or "default")])]


def _scheduler(client, where: _Where, operation: str, params: dict) -> list[tuple[str, list[str]]]:
    if "Name" not in params:
        return [(f"scheduler:{operation}", ["*"])]
    group = params.get("GroupName") or "default"
    needs = [(f"scheduler:{operation}", [where.arn("scheduler", f"schedule/{group}/{params['Name']}")])]
    role = (params.get("Target") or {}).get("RoleArn")
    if role and operation in ("CreateSchedule", "UpdateSchedule"):
        needs.append(("iam:PassRole", [role]))
    return needs


def _ses(client, where: _Where, operation: str, params: dict) -> list[tuple[str, list[str]]]:
    source = parseaddr(params.get("Source") or "")[1]
    if not source:
        return [(f"ses:{operation}", ["*"])]
    # The sender is authorized by the identity it was verified as: the address or its domain.
    identities = [source, source.rpartition("@")[2]]
    arns = [where.arn("ses", f"identity/{name}") for name in identities]
    allowed = [arn for arn in arns if evaluate(where.who.statements, f"ses:{operation}", arn) == "allow"]
    return [(f"ses:{operation}", allowed[:1] or arns[:1])]


def _secretsmanager(client, where: _Where, operation: str, params: dict) -> list[tuple[str, list[str]]]:
    secret = params.get("SecretId") or params.get("Name")
    if secret is None:
        return [(f"secretsmanager:{operation}", ["*"])]
    if not secret.startswith("arn:"):
        # A name: its ARN ends with a random 6-character suffix, which a policy naming it knows.
        named = re.compile(re.escape(where.arn("secretsmanager", f"secret:{secret}-")) + r"[A-Za-z0-9]{6}")
        known = [resource for statement in where.who.statements for resource in _as_list(statement.get("Resource", []))
                 if named.fullmatch(resource)]
        secret = known[0] if known else where.arn("secretsmanager", f"secret:{secret}-??????")
    return [(f"secretsmanager:{operation}", [secret])]


def _sqs(client, where: _Where, operation: str, params: dict) -> list[tuple[str, list[str]]]:
    url = params.get("QueueUrl")
    if url is None:
        return [(f"sqs:{operation}", [where.arn("sqs", params.get("QueueName", "*"))])]
    account, name = urlsplit(url).path.strip("/").split("/")[-2:]
    # AWS authorizes a batch by the action of its single form: there is no SendMessageBatch permission.
    return [(f"sqs:{operation.removesuffix('Batch')}", [f"arn:{where.partition}:sqs:{where.region}:{account}:{name}"])]


_RESOURCES: dict[str, Callable[..., list[tuple[str, list[str]]]]] = {
    "dynamodb": _dynamodb,
    "kms": _kms,
    "events": _events,
    "scheduler": _scheduler,
    "ses": _ses,
    "secretsmanager": _secretsmanager,
    "sqs": _sqs,
}


@contextlib.contextmanager
def recording_allowed() -> Iterator[list[Allowance]]:
    """Records every allowed check made in the block, in any thread; yields the record, emptied first."""
    global _recording_allowed
    allowed.clear()
    _recording_allowed = True
    try:
        yield allowed
    finally:
        _recording_allowed = False


def denial_report(found: list[Denial]) -> str:
    return "\n".join(sorted({str(denial) for denial in found}))
