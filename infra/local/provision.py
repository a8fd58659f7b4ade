"""Creating the template's resources in moto, on demand and in dependency order.

Every ``Ref``/``Fn::GetAtt`` of a resource goes through ``Provisioner.ref``/``get_att``, which
creates the resource first if needed (its own Properties are resolved the same way), so the
template is the only list of resources. Physical names follow ``<stack>-<LogicalId>`` where the
template gives none. Serverless functions and the HTTP API are not created in moto: they run
in-process, so only their names and ARNs are produced here.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from typing import Any, Callable

import boto3

from .template import ACCOUNT_ID, PARTITION, REGION, Resolver, Template, TemplateError

log = logging.getLogger("infra.local.provision")

LOCAL_API_ID = "local"

# Types whose Properties are not resolved when they are referenced: nothing is created for them,
# and a function's Environment may name other functions (resolving it here could loop).
_RESOLVED_LATER = {"AWS::Serverless::Function", "AWS::Serverless::HttpApi", "AWS::Serverless::LayerVersion"}


@dataclass
class Physical:
    """What CloudFormation would report for one resource."""

    ref: Any
    attrs: dict[str, Any] = field(default_factory=dict)


def _arn(service: str, resource: str, region: str = REGION) -> str:
    return f"arn:{PARTITION}:{service}:{region}:{ACCOUNT_ID}:{resource}"


def _str_attrs(props: dict[str, Any], names: dict[str, str]) -> dict[str, str]:
    out = {}
    for cfn_name, api_name in names.items():
        if cfn_name in props and props[cfn_name] is not None:
            value = props[cfn_name]
            if isinstance(value, bool):
                value = "true" if value else "false"
            elif isinstance(value, (dict, list)):
                value = json.dumps(value)
            out[api_name] = str(value)
    return out


class Provisioner:
    def __init__(self, template: Template):
        self.template = template
        self.resolver = Resolver(template, self)
        self.physical: dict[str, Physical] = {}
        self._in_progress: list[str] = []
        self.warnings: list[str] = []
        self._clients: dict[str, Any] = {}
        self._handlers: dict[str, Callable[[str, dict[str, Any]], Physical]] = {
            "AWS::DynamoDB::Table": self._table,
            "AWS::KMS::Key": self._kms_key,
            "AWS::KMS::Alias": self._kms_alias,
            "AWS::SecretsManager::Secret": self._secret,
            "AWS::Events::EventBus": self._event_bus,
            "AWS::SQS::Queue": self._queue,
            "AWS::SQS::QueuePolicy": self._queue_policy,
            "AWS::Events::Rule": self._rule,
            "AWS::Scheduler::ScheduleGroup": self._schedule_group,
            "AWS::IAM::Role": self._role,
            "AWS::Logs::LogGroup": self._log_group,
            "AWS::Serverless::Function": self._function,
            "AWS::Serverless::HttpApi": self._http_api,
            "AWS::Serverless::LayerVersion": self._layer,
        }

    def client(self, service: str) -> Any:
        if service not in self._clients:
            self._clients[service] = boto3.client(service, region_name=REGION)
        return self._clients[service]

    # --- ResourceResolver ----------------------------------------------------------------------

    def ref(self, logical_id: str) -> Any:
        return self.ensure(logical_id).ref

    def get_att(self, logical_id: str, attribute: str) -> Any:
        physical = self.ensure(logical_id)
        if attribute not in physical.attrs:
            raise TemplateError(
                f"Fn::GetAtt {logical_id}.{attribute}: attribute not known locally "
                f"(have {', '.join(sorted(physical.attrs)) or 'none'})"
            )
        return physical.attrs[attribute]

    # --- driving -------------------------------------------------------------------------------

    def provision_all(self) -> dict[str, Physical]:
        for logical_id in self.template.resources:
            if self.resolver.resource_enabled(logical_id):
                self.ensure(logical_id)
        return self.physical

    def ensure(self, logical_id: str) -> Physical:
        if logical_id in self.physical:
            return self.physical[logical_id]
        if logical_id in self._in_progress:
            chain = " -> ".join([*self._in_progress, logical_id])
            raise TemplateError(f"circular reference: {chain}")
        self._in_progress.append(logical_id)
        try:
            rtype = self.template.resource_type(logical_id)
            handler = self._handlers.get(rtype)
            if handler is None:
                log.debug("%s (%s) is not created locally; Ref gives its logical id", logical_id, rtype)
                physical = Physical(ref=logical_id)
            elif rtype in _RESOLVED_LATER:
                physical = handler(logical_id, self.template.properties(logical_id))
            else:
                props = self.resolver.resolve(self.template.properties(logical_id)) or {}
                physical = handler(logical_id, props)
        finally:
            self._in_progress.pop()
        self.physical[logical_id] = physical
        return physical

    def default_name(self, logical_id: str) -> str:
        return f"{self.template.stack_name}-{logical_id}"

    # --- serverless (in-process, nothing to create) --------------------------------------------

    def function_name(self, logical_id: str, props: dict[str, Any]) -> str:
        return str(props.get("FunctionName") or self.default_name(logical_id))

    def _function(self, logical_id: str, props: dict[str, Any]) -> Physical:
        raw_name = props.get("FunctionName")
        name = str(self.resolver.resolve(raw_name)) if raw_name else self.default_name(logical_id)
        arn = _arn("lambda", f"function:{name}")
        return Physical(ref=name, attrs={"Arn": arn})

    def _http_api(self, logical_id: str, props: dict[str, Any]) -> Physical:
        return Physical(
            ref=LOCAL_API_ID,
            attrs={"ApiEndpoint": f"https://{LOCAL_API_ID}.execute-api.{REGION}.amazonaws.com"},
        )

    def _layer(self, logical_id: str, props: dict[str, Any]) -> Physical:
        return Physical(ref=_arn("lambda", f"layer:{self.default_name(logical_id)}:1"))

    # --- data ----------------------------------------------------------------------------------

    def _table(self, logical_id: str, props: dict[str, Any]) -> Physical:
        ddb = self.client("dynamodb")
        name = props.get("TableName") or self.default_name(logical_id)
        kwargs: dict[str, Any] = {
            "TableName": name,
            "AttributeDefinitions": props["AttributeDefinitions"],
            "KeySchema": props["KeySchema"],
            "BillingMode": props.get("BillingMode", "PROVISIONED"),
        }
        for key in ("GlobalSecondaryIndexes", "LocalSecondaryIndexes", "ProvisionedThroughput", "TableClass"):
            if props.get(key):
                kwargs[key] = props[key]
        if props.get("DeletionProtectionEnabled") is not None:
            kwargs["DeletionProtectionEnabled"] = bool(props["DeletionProtectionEnabled"])
        if kwargs["BillingMode"] == "PAY_PER_REQUEST":
            kwargs.pop("ProvisionedThroughput", None)
            for gsi in kwargs.get("GlobalSecondaryIndexes", []):
                gsi.pop("ProvisionedThroughput", None)
        stream = props.get("StreamSpecification")
        if stream:
            kwargs["StreamSpecification"] = {"StreamEnabled": True, "StreamViewType": stream["StreamViewType"]}
        if props.get("Tags"):
            kwargs["Tags"] = props["Tags"]
        desc = ddb.create_table(**kwargs)["TableDescription"]
        # moto (like CloudFormation-in-moto) ignores TTL at create time: set it explicitly.
        ttl = props.get("TimeToLiveSpecification")
        if ttl and ttl.get("Enabled"):
            ddb.update_time_to_live(
                TableName=name,
                TimeToLiveSpecification={"AttributeName": ttl["AttributeName"], "Enabled": True},
            )
        attrs = {"Arn": desc["TableArn"]}
        if desc.get("LatestStreamArn"):
            attrs["StreamArn"] = desc["LatestStreamArn"]
        log.debug("table %s", name)
        return Physical(ref=name, attrs=attrs)

    def _kms_key(self, logical_id: str, props: dict[str, Any]) -> Physical:
        kms = self.client("kms")
        kwargs: dict[str, Any] = {}
        if props.get("Description"):
            kwargs["Description"] = props["Description"]
        if props.get("KeyUsage"):
            kwargs["KeyUsage"] = props["KeyUsage"]
        if props.get("KeySpec"):
            kwargs["KeySpec"] = props["KeySpec"]
        if props.get("KeyPolicy"):
            policy = props["KeyPolicy"]
            kwargs["Policy"] = policy if isinstance(policy, str) else json.dumps(policy)
        if props.get("Tags"):
            kwargs["Tags"] = [{"TagKey": t["Key"], "TagValue": t["Value"]} for t in props["Tags"]]
        meta = kms.create_key(**kwargs)["KeyMetadata"]
        if props.get("EnableKeyRotation"):
            kms.enable_key_rotation(KeyId=meta["KeyId"])
        return Physical(ref=meta["KeyId"], attrs={"Arn": meta["Arn"], "KeyId": meta["KeyId"]})

    def _kms_alias(self, logical_id: str, props: dict[str, Any]) -> Physical:
        self.client("kms").create_alias(AliasName=props["AliasName"], TargetKeyId=props["TargetKeyId"])
        return Physical(ref=props["AliasName"])

    def _secret(self, logical_id: str, props: dict[str, Any]) -> Physical:
        sm = self.client("secretsmanager")
        kwargs: dict[str, Any] = {
            "Name": props.get("Name") or self.default_name(logical_id),
            # A placeholder: real credentials are never needed locally.
            "SecretString": props.get("SecretString") or "{}",
        }
        if props.get("Description"):
            kwargs["Description"] = props["Description"]
        arn = sm.create_secret(**kwargs)["ARN"]
        return Physical(ref=arn, attrs={"Id": arn})

    # --- events and queues ---------------------------------------------------------------------

    def _event_bus(self, logical_id: str, props: dict[str, Any]) -> Physical:
        name = props["Name"]
        arn = self.client("events").create_event_bus(Name=name)["EventBusArn"]
        return Physical(ref=name, attrs={"Arn": arn, "Name": name})

    def _queue(self, logical_id: str, props: dict[str, Any]) -> Physical:
        sqs = self.client("sqs")
        name = props.get("QueueName") or self.default_name(logical_id)
        if props.get("FifoQueue") and not name.endswith(".fifo"):
            name += ".fifo"
        attributes = _str_attrs(
            props,
            {
                "VisibilityTimeout": "VisibilityTimeout",
                "MessageRetentionPeriod": "MessageRetentionPeriod",
                "DelaySeconds": "DelaySeconds",
                "MaximumMessageSize": "MaximumMessageSize",
                "ReceiveMessageWaitTimeSeconds": "ReceiveMessageWaitTimeSeconds",
                "RedrivePolicy": "RedrivePolicy",
                "RedriveAllowPolicy": "RedriveAllowPolicy",
                "FifoQueue": "FifoQueue",
                "ContentBasedDeduplication": "ContentBasedDeduplication",
                "DeduplicationScope": "DeduplicationScope",
                "FifoThroughputLimit": "FifoThroughputLimit",
                "SqsManagedSseEnabled": "SqsManagedSseEnabled",
                "KmsMasterKeyId": "KmsMasterKeyId",
                "KmsDataKeyReusePeriodSeconds": "KmsDataKeyReusePeriodSeconds",
            },
        )
        url = sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
        arn = _arn("sqs", name)
        return Physical(ref=url, attrs={"Arn": arn, "QueueName": name, "QueueUrl": url})

    def _queue_policy(self, logical_id: str, props: dict[str, Any]) -> Physical:
        policy = props["PolicyDocument"]
        policy_text = policy if isinstance(policy, str) else json.dumps(policy)
        for url in props.get("Queues") or []:
            self.client("sqs").set_queue_attributes(QueueUrl=url, Attributes={"Policy": policy_text})
        return Physical(ref=self.default_name(logical_id))

    def _rule(self, logical_id: str, props: dict[str, Any]) -> Physical:
        events = self.client("events")
        name = props.get("Name") or self.default_name(logical_id)
        bus = props.get("EventBusName") or "default"
        if isinstance(bus, str) and bus.startswith("arn:"):
            bus = bus.rsplit("/", 1)[-1]
        kwargs: dict[str, Any] = {"Name": name, "EventBusName": bus, "State": props.get("State", "ENABLED")}
        if props.get("EventPattern") is not None:
            pattern = props["EventPattern"]
            kwargs["EventPattern"] = pattern if isinstance(pattern, str) else json.dumps(pattern)
        if props.get("ScheduleExpression"):
            kwargs["ScheduleExpression"] = props["ScheduleExpression"]
            self.warnings.append(f"{logical_id}: scheduled rules never fire locally (moto)")
        if props.get("Description"):
            kwargs["Description"] = props["Description"]
        if props.get("RoleArn"):
            kwargs["RoleArn"] = props["RoleArn"]
        arn = events.put_rule(**kwargs)["RuleArn"]
        targets = []
        for target in props.get("Targets") or []:
            service = str(target.get("Arn", "")).split(":")[2:3]
            if service not in (["sqs"], ["events"], ["logs"]):
                # moto delivers to SQS, event buses and log groups; anything else would make
                # put_events raise NotImplementedError for every matching event.
                self.warnings.append(f"{logical_id}: target {target.get('Id')} ({target.get('Arn')}) is not delivered locally")
                continue
            targets.append({k: v for k, v in target.items() if v is not None})
        if targets:
            events.put_targets(Rule=name, EventBusName=bus, Targets=targets)
        return Physical(ref=name, attrs={"Arn": arn})

    # --- scheduling, IAM, logs -----------------------------------------------------------------

    def _schedule_group(self, logical_id: str, props: dict[str, Any]) -> Physical:
        name = props.get("Name") or self.default_name(logical_id)
        arn = self.client("scheduler").create_schedule_group(Name=name)["ScheduleGroupArn"]
        return Physical(ref=name, attrs={"Arn": arn})

    def _role(self, logical_id: str, props: dict[str, Any]) -> Physical:
        iam = self.client("iam")
        name = props.get("RoleName") or self.default_name(logical_id)
        trust = props.get("AssumeRolePolicyDocument") or {}
        role = iam.create_role(
            RoleName=name,
            Path=props.get("Path", "/"),
            AssumeRolePolicyDocument=trust if isinstance(trust, str) else json.dumps(trust),
        )["Role"]
        for policy in props.get("Policies") or []:
            doc = policy["PolicyDocument"]
            iam.put_role_policy(
                RoleName=name,
                PolicyName=policy["PolicyName"],
                PolicyDocument=doc if isinstance(doc, str) else json.dumps(doc),
            )
        return Physical(ref=name, attrs={"Arn": role["Arn"], "RoleId": role["RoleId"]})

    def _log_group(self, logical_id: str, props: dict[str, Any]) -> Physical:
        logs = self.client("logs")
        name = props.get("LogGroupName") or self.default_name(logical_id)
        logs.create_log_group(logGroupName=name)
        if props.get("RetentionInDays"):
            logs.put_retention_policy(logGroupName=name, retentionInDays=int(props["RetentionInDays"]))
        return Physical(ref=name, attrs={"Arn": _arn("logs", f"log-group:{name}:*")})

    # --- outside the template ------------------------------------------------------------------

    def verify_sender(self, address: str) -> None:
        """SES is outside the template: verify the sender so moto accepts SendEmail from it."""
        self.client("ses").verify_email_identity(EmailAddress=address)
