"""The `meetbridge` console command: tenant administration against the configured AWS endpoint.

It talks to whatever boto3 is configured for. Table and key come from --table/--kms-key, else
TABLE_NAME/KMS_KEY_ID, else the local stack's .meetbridge/dev.json, found in the current directory or
the nearest one above it (the file also names the local endpoint).
"""

import argparse
import json
import os
import socket
import sys
from pathlib import Path
from urllib.parse import urlsplit

from meetbridge import config
from meetbridge.config import SealingSettings, StoreSettings

LOCAL_STATE = Path('.meetbridge', 'dev.json')
NOT_RUNNING = 'meetbridge: the local stack is not running (start it with `make dev`)'


def find_local_state(start: Path) -> Path | None:
    """The local stack's dev.json in ``start`` or the nearest directory above it, as git finds .git."""
    for directory in (start, *start.parents):
        if (directory / LOCAL_STATE).is_file():
            return directory / LOCAL_STATE
    return None


def _accepts_connections(url: str) -> bool:
    parts = urlsplit(url)
    try:
        with socket.create_connection((parts.hostname, parts.port or 80), timeout=2):
            return True
    except OSError:
        return False


def _configure(args: argparse.Namespace) -> None:
    """Settings must be in the environment before the store binds its table name on import."""
    state = find_local_state(Path.cwd())
    local = json.loads(state.read_text()) if state else {}
    using_local = bool(local) and not (args.table or os.environ.get('TABLE_NAME'))
    table = args.table or os.environ.get('TABLE_NAME') or local.get('table_name')
    key = args.kms_key or os.environ.get('KMS_KEY_ID') or (local.get('kms_key_id') if using_local else None)
    if not table or not key:
        raise SystemExit(f'{NOT_RUNNING}; for AWS, name the table and the KMS key '
                         '(--table/--kms-key, or TABLE_NAME/KMS_KEY_ID)')
    endpoint = args.endpoint_url or (local.get('aws_endpoint_url') if using_local else None)
    # dev.json outlives the stack that wrote it; botocore would retry a refused endpoint, then raise.
    if using_local and not _accepts_connections(endpoint):
        raise SystemExit(NOT_RUNNING)
    os.environ['TABLE_NAME'], os.environ['KMS_KEY_ID'] = table, key
    if endpoint:
        os.environ['AWS_ENDPOINT_URL'] = endpoint
    if using_local:
        # The local stack accepts any credentials; real AWS uses the caller's own.
        os.environ.setdefault('AWS_ACCESS_KEY_ID', 'local')
        os.environ.setdefault('AWS_SECRET_ACCESS_KEY', 'local')
    os.environ['AWS_DEFAULT_REGION'] = args.region or os.environ.get('AWS_DEFAULT_REGION') or local.get('region', 'us-east-1')


class ConsoleSettings(StoreSettings, SealingSettings):
    """The console writes tenants to the table and seals their secrets, as the functions do."""


def _print(args: argparse.Namespace, data: dict | list, lines: list[str]) -> None:
    print(json.dumps(data, indent=2) if args.json else '\n'.join(lines))


def _create(args: argparse.Namespace) -> None:
    from meetbridge.logic.tenants import create_tenant

    tenant = create_tenant(args.name)
    _print(args, {'tenant_id': tenant.tenant_id, 'name': tenant.name, 'api_key': tenant.api_key,
                  'webhook_secret': tenant.webhook_secret},
           [f'tenant id:       {tenant.tenant_id}', f'name:            {tenant.name}',
            f'api key:         {tenant.api_key}', f'webhook secret:  {tenant.webhook_secret}',
            'These credentials are shown once; store them now.'])


def _list(args: argparse.Namespace) -> None:
    from meetbridge.logic.tenants import list_tenants

    tenants = [{'tenant_id': t.tenant_id, 'name': t.name, 'created_at': t.created_at.isoformat()}
               for t in list_tenants()]
    _print(args, tenants, [f"{t['tenant_id']}  {t['created_at'][:19]}  {t['name']}" for t in tenants]
           or ['no tenants'])


def _rotate(args: argparse.Namespace) -> None:
    from datetime import UTC, datetime, timedelta

    from meetbridge.errors import NotFound
    from meetbridge.logic.tenants import rotate_keys

    now, overlap = datetime.now(UTC), timedelta(hours=args.overlap)
    try:
        tenant = rotate_keys(args.tenant_id, api_key=args.only in (None, 'api-key'),
                             webhook_secret=args.only in (None, 'webhook-secret'), overlap=overlap, now=now)
    except NotFound:
        raise SystemExit(f'meetbridge: no tenant {args.tenant_id}') from None
    previous_until = (now + overlap).isoformat(timespec='seconds')
    data = {'tenant_id': tenant.tenant_id, 'previous_valid_until': previous_until}
    lines = [f'tenant id:       {tenant.tenant_id}']
    if tenant.api_key:
        data['api_key'] = tenant.api_key
        lines.append(f'api key:         {tenant.api_key}')
    if tenant.webhook_secret:
        data['webhook_secret'] = tenant.webhook_secret
        lines.append(f'webhook secret:  {tenant.webhook_secret}')
    ending = (f'The previous credentials keep working until {previous_until}, then stop.' if overlap
              else 'The previous credentials no longer work.')
    _print(args, data, lines + [ending])


def _hours(text: str) -> float:
    hours = float(text)
    if not 0 <= hours <= 24 * 30:
        raise argparse.ArgumentTypeError('the overlap is 0 to 720 hours')
    return hours


def _key_create(args: argparse.Namespace) -> None:
    from pydantic import ValidationError

    from meetbridge.errors import InvalidInput, NotFound
    from meetbridge.logic.keys import KeyIn, create_key

    try:
        key = create_key(args.tenant, KeyIn(role=args.role, providers=args.provider))
    except NotFound:
        raise SystemExit(f'meetbridge: no tenant {args.tenant}') from None
    except ValidationError as exc:
        problem = exc.errors()[0]
        named = f" {problem['input']}" if isinstance(problem['input'], str) else ''
        raise SystemExit(f"meetbridge: --provider{named}: {problem['msg']}") from None
    except InvalidInput as exc:
        raise SystemExit(f'meetbridge: {exc}') from None
    _print(args, {'tenant_id': args.tenant, **key.model_dump(mode='json')},
           [f'tenant id:  {args.tenant}', f'key id:     {key.key_id}', f'role:       {key.role}',
            f"providers:  {', '.join(key.providers) or '(all)'}", f'api key:    {key.key}',
            'The key is shown once; store it now.'])


def _dead_letter_queues(args: argparse.Namespace) -> dict[str, str]:
    from meetbridge.logic import dead_letters

    queues = dead_letters.redrives(args.prefix)
    if args.queue:
        queues = {url: source for url, source in queues.items() if url == args.queue or url.endswith('/' + args.queue)}
        if not queues:
            raise SystemExit(f'meetbridge: no dead-letter queue {args.queue}')
    return queues


def _dlq_list(args: argparse.Namespace) -> None:
    from meetbridge.logic import dead_letters

    listed = {url: [letter.summary() for letter in dead_letters.list_letters(url, args.tenant)]
              for url in _dead_letter_queues(args)}
    lines = []
    for url, letters in listed.items():
        lines.append(f'{url}: {len(letters)} message(s)')
        lines += [f"  {item['id']}  {item['sent_at'][:19]}  {item['type']}  tenant {item['tenant_id']}  "
                  f"booking {item['booking_id']}  received {item['receive_count']}x" for item in letters]
    _print(args, listed, lines or ['no dead-letter queues'])


def _dlq_replay(args: argparse.Namespace) -> None:
    from meetbridge.errors import NotFound
    from meetbridge.logic import dead_letters

    replayed = []
    for url, source in _dead_letter_queues(args).items():
        ids = [letter.message_id for letter in dead_letters.list_letters(url, args.tenant)] if args.all \
            else [args.message_id]
        for message_id in ids:
            try:
                replayed.append({**dead_letters.replay(url, source, message_id, args.tenant).summary(), 'to': source})
            except NotFound:
                continue  # in another dead-letter queue
    if not args.all and not replayed:
        raise SystemExit(f'meetbridge: no dead letter {args.message_id}')
    _print(args, replayed, [f"replayed {item['id']} to {item['to']}" for item in replayed] or ['nothing to replay'])


def _backfill_indexes(args: argparse.Namespace) -> None:
    from meetbridge.errors import NotFound
    from meetbridge.logic.backfill import backfill_indexes

    try:
        done = backfill_indexes([args.tenant] if args.tenant else None, dry_run=args.dry_run)
    except NotFound:
        raise SystemExit(f'meetbridge: no tenant {args.tenant}') from None
    lines = [f'tenants:   {done.tenants}']
    for name in ('meetings', 'bookings'):
        counts = getattr(done, name)
        lines.append(f'{name + ":":<10} {counts.checked} checked, {counts.outdated} not indexed, '
                     f'{counts.indexed} indexed, {counts.changed_concurrently} changed meanwhile (indexed by that change)')
    if args.dry_run:
        lines.append('Dry run: nothing was written.')
    _print(args, {**done.as_map(), 'dry_run': args.dry_run}, lines)


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog='meetbridge', description=__doc__.splitlines()[0])
    root.add_argument('--table', help='the DynamoDB table (default: TABLE_NAME or the local stack)')
    root.add_argument('--kms-key', help='the sealing KMS key id or ARN (default: KMS_KEY_ID or the local stack)')
    root.add_argument('--endpoint-url', help='an AWS endpoint, e.g. the local stack')
    root.add_argument('--region')
    nouns = root.add_subparsers(dest='noun', required=True)
    tenant = nouns.add_parser('tenant', help='create, list and rotate tenants')
    verbs = tenant.add_subparsers(dest='verb', required=True)

    create = verbs.add_parser('create', help='create a tenant and print its credentials once')
    create.add_argument('--name', required=True)
    create.set_defaults(run=_create)
    listing = verbs.add_parser('list', help='list tenants')
    listing.set_defaults(run=_list)
    rotate = verbs.add_parser('rotate-keys', help='issue a new API key and webhook secret; the previous '
                                                          'ones keep working for an overlap window')
    rotate.add_argument('tenant_id')
    rotate.add_argument('--only', choices=['api-key', 'webhook-secret'])
    rotate.add_argument('--overlap', type=_hours, default=24, metavar='HOURS',
                        help='how long the previous credentials keep working (default 24; 0: they stop at once)')
    rotate.set_defaults(run=_rotate)

    key = nouns.add_parser('key', help="API keys with a role, besides the tenant's own (admin) key")
    key_verbs = key.add_subparsers(dest='verb', required=True)
    key_create = key_verbs.add_parser('create', help='make an API key with a role and print it once')
    key_create.add_argument('--tenant', required=True)
    key_create.add_argument('--role', required=True, choices=['admin', 'senior', 'junior'],
                            help='admin: every route; senior: read and start any booking; junior: read and start '
                                 'the bookings of its --provider(s)')
    key_create.add_argument('--provider', action='append', default=[], metavar='PROVIDER_ID',
                            help="a junior key's provider (repeat for more)")
    key_create.set_defaults(run=_key_create)

    dlq = nouns.add_parser('dlq', help='list and replay the messages in the dead-letter queues')
    dlq_verbs = dlq.add_subparsers(dest='verb', required=True)
    dlq_list = dlq_verbs.add_parser('list', help="list the dead letters (never their bodies)")
    dlq_list.set_defaults(run=_dlq_list)
    dlq_replay = dlq_verbs.add_parser('replay', help='send dead letters back to the queue they came from')
    which = dlq_replay.add_mutually_exclusive_group(required=True)
    which.add_argument('message_id', nargs='?')
    which.add_argument('--all', action='store_true', help='every dead letter (of --tenant, of --queue)')
    dlq_replay.set_defaults(run=_dlq_replay)
    for command in (dlq_list, dlq_replay):
        command.add_argument('--queue', help='one dead-letter queue, by URL or name (default: all of them)')
        command.add_argument('--prefix', default='', help='only queues whose names start so (e.g. the stack name)')
        command.add_argument('--tenant', help="one tenant's messages only")

    backfill = nouns.add_parser('backfill', help='index items written before an index existed')
    backfill_verbs = backfill.add_subparsers(dest='verb', required=True)
    backfill_indexes = backfill_verbs.add_parser(
        'indexes', help='put meetings live on an account in HOSTED# and active bookings with a problem in FAILED#; '
                        'a second run changes nothing')
    backfill_indexes.add_argument('--tenant', help='one tenant only (default: every tenant)')
    backfill_indexes.add_argument('--dry-run', action='store_true', help='count what would be indexed, write nothing')
    backfill_indexes.set_defaults(run=_backfill_indexes)

    for command in (create, listing, rotate, key_create, dlq_list, dlq_replay, backfill_indexes):
        command.add_argument('--json', action='store_true', help='machine-readable output')
    return root


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    _configure(args)
    try:
        with config.using(ConsoleSettings):
            args.run(args)
    except ValueError as exc:
        print(f'meetbridge: {exc}', file=sys.stderr)
        return 2
    return 0


if __name__ == '__main__':
    sys.exit(main())
