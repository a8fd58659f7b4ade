"""/v1/tenants/{tenant_id}/...: the tenant admin API used by the booking platform's backend."""

import json
from datetime import UTC, datetime
from typing import Annotated, Literal
from urllib.parse import urlencode

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response, content_types
from aws_lambda_powertools.event_handler.openapi.params import Body, Path, Query
from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEventV2
from pydantic import AwareDatetime, BaseModel

from meetbridge import config, safe_json
from meetbridge.config import (AlertWebhookSettings, CallbacksQueueSettings, DeadLetterSettings, FunctionSettings,
                               MeetingsQueueSettings, ZoomSettings, settings)
from meetbridge.domain.hosting import COMPANY, FALLBACK
from meetbridge.errors import InvalidInput, NotFound
from meetbridge.logic import (admin, alert_settings, callbacks, dead_letters, keys, listing, notification_settings,
                               online, reports, sources, tenants)
from meetbridge.observability import logger, metrics
from meetbridge.web.errors import answers_errors, problem_of
from meetbridge.web.request import text_body


class AdminSettings(FunctionSettings, ZoomSettings, MeetingsQueueSettings, DeadLetterSettings, AlertWebhookSettings,
                    CallbacksQueueSettings):
    """Lists an account's users and revokes it at the provider, refreshing its token when needed; lists and
    replays the tenant's dead letters; checks the alert webhook and callback URLs it saves; replays callbacks."""


# Cold start: a function deployed without one of its variables fails its init, naming it.
SETTINGS = config.load(AdminSettings)

# Bodies are parsed by the safe loader: no depth, number or encoding in a body can reach a 500.
app = APIGatewayHttpResolver(enable_validation=True, json_body_deserializer=safe_json.loads)

TENANT = '/v1/tenants/<tenant_id>'
Id = Annotated[str, Path(min_length=1, max_length=128, pattern=r'^[A-Za-z0-9][A-Za-z0-9._:@-]*$')]
# A list's page size and the cursor its previous page answered as `next`.
Limit = Annotated[int, Query(ge=1, le=listing.MAX_LIMIT, description='items per page (1 to 200)')]
Cursor = Annotated[str | None, Query(alias='next', max_length=listing.MAX_CURSOR_LENGTH,
                                     description="the previous page's `next`")]
IdFilter = Annotated[str | None, Query(min_length=1, max_length=128, pattern=r'^[A-Za-z0-9][A-Za-z0-9._:@-]*$')]


class Problem(BaseModel):
    field: str | None
    message: str


class ErrorOut(BaseModel):
    error: str
    message: str
    field: str | None = None
    problems: list[Problem] | None = None


ERRORS = {
    status: {'description': description, 'content': {'application/json': {'model': ErrorOut}}}
    for status, description in (
        (400, 'Invalid request: `field` names the problem'),
        (401, 'No API key'),
        (403, 'The API key is not this tenant\'s, or its role may not call this route (`message` says why)'),
        (404, 'Unknown tenant or resource'),
        (409, 'Changed by another request at the same moment (`conflict`: retry), or not possible in the '
              'resource\'s state (`invalid_state`: `message` says why)'),
        (413, 'The body is larger than 256 KiB'),
        (503, 'The meeting provider did not answer (retry after `Retry-After` seconds), refused, or the '
              'account must be connected again'),
    )
}


@app.exception_handler(Exception)
def _answer_error(exc: Exception) -> Response:
    problem = problem_of(exc)
    return Response(status_code=problem.status, content_type=content_types.APPLICATION_JSON,
                    body=problem.json_body(), headers=problem.headers())


@app.not_found
def _no_route(_exc) -> Response:
    raise NotFound('no such endpoint')


@app.put(f'{TENANT}/services/<service_id>', summary='Create or replace a service', tags=['services'], responses=ERRORS)
def put_service(tenant_id: Id, service_id: Id, body: Annotated[admin.ServiceIn, Body()]) -> admin.ServiceOut:
    return admin.put_service(tenant_id, service_id, body)


@app.get(f'{TENANT}/services/<service_id>', summary='Get a service', tags=['services'], responses=ERRORS)
def get_service(tenant_id: Id, service_id: Id) -> admin.ServiceOut:
    return admin.get_service(tenant_id, service_id)


@app.put(f'{TENANT}/providers/<provider_id>', summary='Create or replace a provider (staff member)',
         tags=['providers'], responses=ERRORS)
def put_provider(tenant_id: Id, provider_id: Id, body: Annotated[admin.ProviderIn, Body()]) -> admin.ProviderOut:
    return admin.put_provider(tenant_id, provider_id, body)


@app.get(f'{TENANT}/providers/<provider_id>', summary='Get a provider', tags=['providers'], responses=ERRORS)
def get_provider(tenant_id: Id, provider_id: Id) -> admin.ProviderOut:
    return admin.get_provider(tenant_id, provider_id)


@app.get(f'{TENANT}/services', summary='The services, by id (a page; `next` asks for the following one)',
         tags=['services'], responses=ERRORS)
def get_services(tenant_id: Id, limit: Limit = listing.DEFAULT_LIMIT, cursor: Cursor = None) -> listing.ServicesPage:
    return listing.list_services(tenant_id, limit, cursor)


@app.get(f'{TENANT}/providers', summary='The providers, by id (a page; `next` asks for the following one)',
         tags=['providers'], responses=ERRORS)
def get_providers(tenant_id: Id, limit: Limit = listing.DEFAULT_LIMIT,
                  cursor: Cursor = None) -> listing.ProvidersPage:
    return listing.list_providers(tenant_id, limit, cursor)


# The bookings' filters, shared by the bookings list and the meetings report.
StartFrom = Annotated[AwareDatetime | None, Query(alias='from', description='starts at or after (ISO 8601 with an '
                                                  'offset)')]
StartTo = Annotated[AwareDatetime | None, Query(alias='to', description='starts before (ISO 8601 with an offset)')]
BookingStatus = Annotated[Literal['received', 'active', 'cancelled'] | None, Query()]


@app.get(f'{TENANT}/bookings', summary='The bookings by start, filtered (a page; `next` asks for the following '
         'one, which a page thinned by `service_id`, `provider_id`, `status` or `source` may precede short)',
         tags=['bookings'], responses=ERRORS)
def get_bookings(
    tenant_id: Id, limit: Limit = listing.DEFAULT_LIMIT, cursor: Cursor = None, start_from: StartFrom = None,
    start_to: StartTo = None, service_id: IdFilter = None, provider_id: IdFilter = None, status: BookingStatus = None,
    source: IdFilter = None,
) -> listing.BookingsPage:
    filters = listing.BookingFilters(start_from=start_from, start_to=start_to, service_id=service_id,
                                     provider_id=provider_id, status=status, source=source)
    return listing.list_bookings(tenant_id, filters, limit, cursor)


@app.get(f'{TENANT}/reports/meetings', summary='The online meetings report: one row per meeting (a class '
         "session's bookings make one), by start, times in the tenant's zone, with the bookings list's filters; "
         'JSON, or CSV with `Accept: text/csv` or `format=csv` (a page; `next` asks for the following one)',
         tags=['reports'], responses={200: {'description': 'A page of the report', 'content': {
             'application/json': {'model': reports.MeetingsReport},
             'text/csv': {'schema': {'type': 'string', 'description': 'the same page, one line per client, with '
                                                                      'the next page in `X-Next-Cursor` and `Link`'}},
         }}, **ERRORS})
def get_meetings_report(
    tenant_id: Id, limit: Limit = listing.DEFAULT_LIMIT, cursor: Cursor = None, start_from: StartFrom = None,
    start_to: StartTo = None, service_id: IdFilter = None, provider_id: IdFilter = None, status: BookingStatus = None,
    source: IdFilter = None,
    answer_format: Annotated[Literal['json', 'csv'] | None, Query(alias='format', description='overrides `Accept`')] = None,
):  # no return annotation: Powertools would validate the CSV against it
    filters = listing.BookingFilters(start_from=start_from, start_to=start_to, service_id=service_id,
                                     provider_id=provider_id, status=status, source=source)
    report = reports.meetings_report(app.context['caller'].tenant, filters, limit, cursor)
    if (answer_format or _preferred_format(app.current_event.headers.get('accept'))) == 'json':
        return Response(status_code=200, content_type=content_types.APPLICATION_JSON, body=report.model_dump_json())
    headers = {'Content-Disposition': f'attachment; filename="meetings-{tenant_id}.csv"'}
    if report.next:
        query = {**(app.current_event.query_string_parameters or {}), 'next': report.next, 'format': 'csv'}
        headers |= {'X-Next-Cursor': report.next,
                    'Link': f'<{_api_base()}{app.current_event.raw_path}?{urlencode(query)}>; rel="next"'}
    return Response(status_code=200, content_type='text/csv; charset=utf-8', body=reports.as_csv(report),
                    headers=headers)


def _preferred_format(accept: str | None) -> str:
    """CSV when the Accept header ranks text/csv above application/json (or names only it), else JSON."""
    quality = {}
    for entry in (accept or '').split(','):
        media_type, *parameters = (part.strip() for part in entry.split(';'))
        weight = next((value for name, _, value in (parameter.partition('=') for parameter in parameters)
                       if name.strip().lower() == 'q'), '1')
        try:
            quality[media_type.lower()] = float(weight)
        except ValueError:
            quality[media_type.lower()] = 0.0
    return 'csv' if quality.get('text/csv', 0) > quality.get('application/json', 0) else 'json'


@app.get(f'{TENANT}/settings/general', summary="The tenant's own time zone (reports show times in it)",
         tags=['settings'], responses=ERRORS)
def get_general_settings(tenant_id: Id) -> admin.GeneralSettings:
    return admin.get_general_settings(tenant_id)


@app.put(f'{TENANT}/settings/general', summary="Set the tenant's own time zone (an IANA name, e.g. Europe/Paris)",
         tags=['settings'], responses=ERRORS)
def put_general_settings(tenant_id: Id, body: Annotated[admin.GeneralSettings, Body()]) -> admin.GeneralSettings:
    return admin.put_general_settings(tenant_id, body)


@app.put(f'{TENANT}/accounts/default', summary="Set the company's default meeting account", tags=['accounts'], responses=ERRORS)
def put_default_account(tenant_id: Id, body: Annotated[admin.CustomLinkAccountIn, Body()]) -> admin.AccountOut:
    return admin.put_custom_link(tenant_id, COMPANY, body)


@app.get(f'{TENANT}/accounts/default', summary="Get the company's default meeting account", tags=['accounts'], responses=ERRORS)
def get_default_account(tenant_id: Id) -> admin.AccountOut:
    return admin.get_account(tenant_id, COMPANY)


@app.delete(f'{TENANT}/accounts/default', summary="Disconnect the company's default meeting account",
            tags=['accounts'], responses=ERRORS)
def delete_default_account(tenant_id: Id) -> admin.AccountOut:
    return admin.disconnect(tenant_id, COMPANY)


@app.put(f'{TENANT}/accounts/fallback', summary="Set the tenant's fallback custom link: it hosts a booking when "
         "neither the provider's own account nor the company account can", tags=['accounts'], responses=ERRORS)
def put_fallback_account(tenant_id: Id, body: Annotated[admin.CustomLinkAccountIn, Body()]) -> admin.AccountOut:
    return admin.put_custom_link(tenant_id, FALLBACK, body)


@app.get(f'{TENANT}/accounts/fallback', summary="Get the tenant's fallback custom link", tags=['accounts'],
         responses=ERRORS)
def get_fallback_account(tenant_id: Id) -> admin.AccountOut:
    return admin.get_account(tenant_id, FALLBACK)


@app.delete(f'{TENANT}/accounts/fallback', summary="Disconnect the tenant's fallback custom link: the hosting chain "
            'ends at the company account', tags=['accounts'], responses=ERRORS)
def delete_fallback_account(tenant_id: Id) -> admin.AccountOut:
    return admin.disconnect(tenant_id, FALLBACK)


@app.get(f'{TENANT}/accounts', summary='Every account a slot points at (company, providers\' own, fallback) and '
         'every other one that still hosts future meetings, with its status and future meetings', tags=['accounts'],
         responses=ERRORS)
def get_accounts(tenant_id: Id) -> admin.AccountsOut:
    return admin.list_accounts(tenant_id)


@app.put(f'{TENANT}/providers/<provider_id>/account', summary="Set a provider's own meeting account",
         tags=['accounts'], responses=ERRORS)
def put_provider_account(tenant_id: Id, provider_id: Id,
                         body: Annotated[admin.CustomLinkAccountIn, Body()]) -> admin.AccountOut:
    return admin.put_custom_link(tenant_id, admin.provider_holder(tenant_id, provider_id), body)


@app.get(f'{TENANT}/providers/<provider_id>/account', summary="Get a provider's own meeting account",
         tags=['accounts'], responses=ERRORS)
def get_provider_account(tenant_id: Id, provider_id: Id) -> admin.AccountOut:
    return admin.get_account(tenant_id, admin.provider_holder(tenant_id, provider_id))


@app.delete(f'{TENANT}/providers/<provider_id>/account', summary="Disconnect a provider's own meeting account",
            tags=['accounts'], responses=ERRORS)
def delete_provider_account(tenant_id: Id, provider_id: Id) -> admin.AccountOut:
    return admin.disconnect(tenant_id, admin.provider_holder(tenant_id, provider_id))


@app.post(f'{TENANT}/connections/<provider_type>/connect-link', summary='A link that connects a meeting account '
          'through the provider\'s sign-in (expires in minutes)', tags=['accounts'], responses=ERRORS)
def post_connect_link(tenant_id: Id, provider_type: Id,
                      body: Annotated[admin.ConnectLinkIn, Body()]) -> admin.ConnectLinkOut:
    return admin.connect_link(tenant_id, provider_type, body, _api_base())


def _api_base() -> str:
    event = app.current_event
    return f"{event.headers.get('x-forwarded-proto', 'https')}://{event.request_context.domain_name}"


@app.get(f'{TENANT}/accounts/default/users', summary='The users of the company meeting account (all pages)',
         tags=['accounts'], responses=ERRORS)
def get_company_users(tenant_id: Id) -> list[admin.AccountUser]:
    return admin.company_users(tenant_id)


@app.put(f'{TENANT}/providers/<provider_id>/company-user', summary='Map a provider to a user of the company '
         'meeting account, who then hosts their bookings', tags=['accounts'], responses=ERRORS)
def put_company_user(tenant_id: Id, provider_id: Id, body: Annotated[admin.CompanyUserIn, Body()]) -> admin.ProviderOut:
    return admin.map_provider(tenant_id, provider_id, body)


@app.get(f'{TENANT}/settings/meetings', summary='How new meetings are set up (join before host, waiting room, '
         '...)', tags=['settings'], responses=ERRORS)
def get_meeting_settings(tenant_id: Id) -> admin.MeetingSettings:
    return admin.get_meeting_settings(tenant_id)


@app.put(f'{TENANT}/settings/meetings', summary='Set how new meetings are set up', tags=['settings'],
         responses=ERRORS)
def put_meeting_settings(tenant_id: Id, body: Annotated[admin.MeetingSettings, Body()]) -> admin.MeetingSettings:
    return admin.put_meeting_settings(tenant_id, body)


@app.get(f'{TENANT}/settings/return-origins', summary='The origins a connect link may return to (`return_url`)',
         tags=['settings'], responses=ERRORS)
def get_return_origins(tenant_id: Id) -> admin.ReturnOrigins:
    return admin.get_return_origins(tenant_id)


@app.put(f'{TENANT}/settings/return-origins', summary='Set the origins a connect link may return to (`return_url`)',
         tags=['settings'], responses=ERRORS)
def put_return_origins(tenant_id: Id, body: Annotated[admin.ReturnOrigins, Body()]) -> admin.ReturnOrigins:
    return admin.put_return_origins(tenant_id, body)


@app.get(f'{TENANT}/settings/reminders', summary='How long before a meeting\'s start its reminders are sent',
         tags=['settings'], responses=ERRORS)
def get_reminder_offsets(tenant_id: Id) -> admin.ReminderOffsets:
    return admin.get_reminder_offsets(tenant_id)


@app.put(f'{TENANT}/settings/reminders', summary='Set how long before a meeting\'s start its reminders are sent '
         '(meetings made or moved afterwards)', tags=['settings'], responses=ERRORS)
def put_reminder_offsets(tenant_id: Id, body: Annotated[admin.ReminderOffsets, Body()]) -> admin.ReminderOffsets:
    return admin.put_reminder_offsets(tenant_id, body)


@app.get(f'{TENANT}/settings/alerts', summary='Who is alerted when an account breaks or a booking needs the admin',
         tags=['settings'], responses=ERRORS)
def get_alert_contacts(tenant_id: Id) -> alert_settings.AlertContacts:
    return alert_settings.get_contacts(tenant_id)


@app.put(f'{TENANT}/settings/alerts', summary='Set the alert emails and the signed alert webhook\'s URL (null: none)',
         tags=['settings'], responses=ERRORS)
def put_alert_contacts(tenant_id: Id, body: Annotated[alert_settings.AlertContacts, Body()]) -> alert_settings.AlertContacts:
    return alert_settings.put_contacts(tenant_id, body)


@app.get(f'{TENANT}/settings/callbacks', summary="Where the booking platform takes its signed callbacks, and which "
         'event types (never the secret)', tags=['callbacks'], responses=ERRORS)
def get_callbacks(tenant_id: Id) -> callbacks.CallbacksOut:
    return callbacks.get_settings(tenant_id, datetime.now(UTC))


@app.put(f'{TENANT}/settings/callbacks', summary="Set the callback URL and event types; the first time, the answer "
         'carries the signing `secret`, once', tags=['callbacks'], responses=ERRORS)
def put_callbacks(tenant_id: Id, body: Annotated[callbacks.CallbacksIn, Body()]) -> callbacks.CallbacksOut:
    return callbacks.put_settings(tenant_id, body, datetime.now(UTC))


@app.post(f'{TENANT}/settings/callbacks/rotate', summary='A new callback secret, answered once; the previous one '
          'still signs (a second `v1=`) for 24 hours', tags=['callbacks'], responses=ERRORS)
def rotate_callback_secret(tenant_id: Id) -> callbacks.CallbacksOut:
    return callbacks.rotate_secret(tenant_id, datetime.now(UTC))


@app.delete(f'{TENANT}/settings/callbacks', summary='Stop the callbacks (and forget their secret)', tags=['callbacks'],
            responses=ERRORS)
def delete_callbacks(tenant_id: Id) -> callbacks.CallbacksOut:
    return callbacks.delete_settings(tenant_id)


@app.get(f'{TENANT}/callbacks/deliveries', summary='The callbacks of the last 30 days, newest first (a page; `next` '
         'asks for the following one)', tags=['callbacks'], responses=ERRORS)
def get_callback_deliveries(tenant_id: Id, limit: Limit = listing.DEFAULT_LIMIT,
                            cursor: Cursor = None) -> callbacks.DeliveriesPage:
    return callbacks.list_deliveries(tenant_id, limit, cursor, datetime.now(UTC))


@app.post(f'{TENANT}/callbacks/deliveries/<delivery_id>/replay', summary='Send a callback again (the same body and '
          '`event_id`, a new attempt)', tags=['callbacks'], responses=ERRORS)
def replay_callback(tenant_id: Id, delivery_id: Id) -> callbacks.DeliveryOut:
    return callbacks.replay(tenant_id, delivery_id, datetime.now(UTC))


# A template's level, channel and locale, as its routes' query parameters name them.
TemplateChannel = Annotated[Literal['email', 'sms'], Query(description='email (the default) or sms')]
TemplateLocale = Annotated[str | None, Query(min_length=1, max_length=35, description='a BCP 47 language tag '
                                             "(e.g. fr, fr-CA); omitted: the tenant's default locale")]
ServiceLevel = Annotated[str | None, Query(min_length=1, max_length=128, pattern=r'^[A-Za-z0-9][A-Za-z0-9._:@-]*$',
                                           description='the service whose template this is (omitted: any service)')]
ProviderLevel = Annotated[str | None, Query(min_length=1, max_length=128, pattern=r'^[A-Za-z0-9][A-Za-z0-9._:@-]*$',
                                            description='the provider whose template this is (omitted: any provider)')]


@app.get(f'{TENANT}/templates', summary='The notification templates set, at which level, channel and locale, '
         'and the levels\' on/off switches (locale `*`) (a page; `next` asks for the following one)',
         tags=['templates'], responses=ERRORS)
def get_templates(tenant_id: Id, limit: Limit = listing.DEFAULT_LIMIT, cursor: Cursor = None) -> listing.TemplatesPage:
    return listing.list_templates(tenant_id, limit, cursor)


@app.get(f'{TENANT}/templates/<name>', summary='A notification template at a level (tenant, service, provider, '
         'or both), channel and locale; the tenant level shows the built-in text until it has its own',
         tags=['templates'], responses=ERRORS)
def get_template(tenant_id: Id, name: Id, service_id: ServiceLevel = None, provider_id: ProviderLevel = None,
                 locale: TemplateLocale = None, channel: TemplateChannel = 'email') -> admin.TemplateOut:
    return admin.get_template(admin.template_at(tenant_id, name, channel, service_id, provider_id, locale))


@app.put(f'{TENANT}/templates/<name>', summary='Set a notification template\'s text at a level, channel and locale, '
         'switch it on or off at that level (every locale; null clears the switch), or both (what is left out '
         'stays); an SMS is plain text within the tenant\'s segment limit', tags=['templates'], responses=ERRORS)
def put_template(tenant_id: Id, name: Id, body: Annotated[admin.TemplateIn, Body()], service_id: ServiceLevel = None,
                 provider_id: ProviderLevel = None, locale: TemplateLocale = None,
                 channel: TemplateChannel = 'email') -> admin.TemplateOut:
    return admin.put_template(admin.template_at(tenant_id, name, channel, service_id, provider_id, locale), body)


@app.delete(f'{TENANT}/templates/<name>', summary='Remove a template\'s text at a level, channel and locale (its '
            'on/off switch stays)', tags=['templates'], status_code=204,
            responses={204: {'description': 'Removed, or nothing was set there'}, **ERRORS})
def delete_template(tenant_id: Id, name: Id, service_id: ServiceLevel = None, provider_id: ProviderLevel = None,
                    locale: TemplateLocale = None, channel: TemplateChannel = 'email'):  # no body to validate
    admin.delete_template(admin.template_at(tenant_id, name, channel, service_id, provider_id, locale))
    return Response(status_code=204)


@app.get(f'{TENANT}/templates/<name>/effective', summary='The template a booking of this service and provider '
         'would get for a client of this locale: its level and locale, and a preview with an ordinary booking',
         tags=['templates'], responses=ERRORS)
def get_effective_template(tenant_id: Id, name: Id, service_id: ServiceLevel = None, provider_id: ProviderLevel = None,
                           locale: TemplateLocale = None,
                           channel: TemplateChannel = 'email') -> admin.EffectiveTemplateOut:
    return admin.effective_template(admin.template_at(tenant_id, name, channel, service_id, provider_id, locale))


@app.get(f'{TENANT}/settings/notifications', summary='SMS, links in messages, the hidden link\'s text, the default '
         'language and the SMS segment limit', tags=['settings'], responses=ERRORS)
def get_notification_settings(tenant_id: Id) -> notification_settings.NotificationSettings:
    return notification_settings.get(tenant_id)


@app.put(f'{TENANT}/settings/notifications', summary='Change the notification settings given (those left out keep '
         'their value; `hidden_link_text: null` goes back to the built-in sentence)', tags=['settings'],
         responses=ERRORS)
def put_notification_settings(tenant_id: Id, body: Annotated[notification_settings.NotificationSettingsIn,
                                                             Body()]) -> notification_settings.NotificationSettings:
    return notification_settings.put(tenant_id, body)


@app.put(f'{TENANT}/sources/<source>', summary='Configure a booking platform that posts its webhooks here (keys '
         'sealed, never answered); answers the webhook URL to paste into the platform', tags=['sources'],
         responses=ERRORS)
def put_source(tenant_id: Id, source: Id) -> dict:
    # The body's model depends on the source (sources/settings.py): it is validated there, naming the field.
    return sources.put_source(tenant_id, source, app.current_event.json_body, _api_base())


@app.get(f'{TENANT}/sources/<source>', summary="A booking platform's settings, with has_<key> for each key",
         tags=['sources'], responses=ERRORS)
def get_source(tenant_id: Id, source: Id) -> dict:
    return sources.get_source(tenant_id, source, _api_base())


@app.delete(f'{TENANT}/sources/<source>', summary='Remove a booking platform: its webhooks are answered 404',
            tags=['sources'], responses=ERRORS)
def delete_source(tenant_id: Id, source: Id) -> dict:
    return sources.delete_source(tenant_id, source, _api_base())


class SourceBookingView(admin.BookingView):
    source: str
    external_id: str


@app.get(f'{TENANT}/sources/<source>/bookings/<external_id>', summary="A booking found by its platform's id "
         '(any id a reschedule gave it)', tags=['bookings'], responses=ERRORS)
def get_source_booking(tenant_id: Id, source: Id, external_id: Id) -> SourceBookingView:
    view = admin.get_booking(tenant_id, sources.booking_id_for(tenant_id, source, external_id))
    return SourceBookingView(**view.model_dump(), source=source, external_id=external_id)


@app.get(f'{TENANT}/bookings/<booking_id>', summary='A booking with its meeting and join links', tags=['bookings'], responses=ERRORS)
def get_booking(tenant_id: Id, booking_id: Id) -> admin.BookingView:
    return admin.get_booking(tenant_id, booking_id)


@app.post(f'{TENANT}/bookings/<booking_id>/start', summary="Start the booking's meeting now, before its end "
          '(no body; admin and senior keys, a junior key for its providers\' bookings); already started: '
          'unchanged', tags=['bookings'], responses=ERRORS)
def start_booking(tenant_id: Id, booking_id: Id) -> admin.BookingView:
    if app.current_event.body:
        raise InvalidInput('this request takes no body')
    return admin.start_booking(tenant_id, booking_id, app.context['caller'].role)


@app.put(f'{TENANT}/bookings/<booking_id>/online', summary='Switch one booking online (a meeting, the same links '
         'as before) or in person (its meeting deleted, its links say so), whatever its service says, kept through '
         'reschedules; applied within seconds; the same value again changes nothing (admin and senior keys, a '
         'junior key for its providers\' bookings)', tags=['bookings'], status_code=202, responses={
             202: {'description': 'The switch is stored; the booking as it is until it is applied',
                   'content': {'application/json': {'model': admin.BookingView}}}, **ERRORS})
def put_booking_online(tenant_id: Id, booking_id: Id, body: Annotated[online.OnlineIn, Body()]) -> admin.BookingView:
    online.set_booking_online(tenant_id, booking_id, body.online, settings(MeetingsQueueSettings).meetings_queue_url)
    return admin.get_booking(tenant_id, booking_id)


@app.put(f'{TENANT}/sessions/<session_id>/online', summary='Switch a class session online or in person: each of its '
         'bookings, and those arriving later (a booking switched on its own follows the session again); applied '
         'within seconds (admin and senior keys)', tags=['bookings'], status_code=202, responses={
             202: {'description': 'The switch is stored; `switching` names the bookings being applied',
                   'content': {'application/json': {'model': online.SessionOnlineOut}}}, **ERRORS})
def put_session_online(tenant_id: Id, session_id: Id,
                       body: Annotated[online.OnlineIn, Body()]) -> online.SessionOnlineOut:
    return online.set_session_online(tenant_id, session_id, body.online,
                                     settings(MeetingsQueueSettings).meetings_queue_url)


@app.get(f'{TENANT}/keys', summary='The API keys with a role (never the keys themselves); the tenant\'s own key '
         'is not listed', tags=['keys'], responses=ERRORS)
def get_keys(tenant_id: Id) -> list[keys.KeyOut]:
    return keys.list_keys(tenant_id)


@app.post(f'{TENANT}/keys', summary='Make an API key with a role (admin, senior, or junior for the providers '
          'named); the key is answered this once', tags=['keys'], status_code=201, responses={
              201: {'description': 'The key, shown this once',
                    'content': {'application/json': {'model': keys.NewKeyOut}}}, **ERRORS})
def post_key(tenant_id: Id, body: Annotated[keys.KeyIn, Body()]) -> keys.NewKeyOut:
    return keys.create_key(tenant_id, body)


@app.delete(f'{TENANT}/keys/<key_id>', summary='Revoke an API key: it is refused from the next request on',
            tags=['keys'], responses=ERRORS)
def delete_key(tenant_id: Id, key_id: Id) -> keys.KeyOut:
    return keys.revoke_key(tenant_id, key_id)


class DeadLetterOut(BaseModel):
    id: str
    type: str | None
    event_id: str | None
    booking_id: str | None
    sent_at: str
    receive_count: int


def _dead_letter_out(letter: dead_letters.DeadLetter) -> DeadLetterOut:
    summary = letter.summary()
    return DeadLetterOut(**{name: summary[name] for name in DeadLetterOut.model_fields})


@app.get(f'{TENANT}/dead-letters', summary='Booking events that failed every retry (oldest first)',
         tags=['bookings'], responses=ERRORS)
def get_dead_letters(tenant_id: Id) -> list[DeadLetterOut]:
    queues = settings(DeadLetterSettings)
    return [_dead_letter_out(letter)
            for letter in dead_letters.list_letters(queues.meetings_dead_letter_queue_url, tenant_id)]


@app.post(f'{TENANT}/dead-letters/<message_id>/replay', summary='Apply a dead letter again (it goes back to '
          'the meetings queue)', tags=['bookings'], responses=ERRORS)
def replay_dead_letter(tenant_id: Id, message_id: Id) -> DeadLetterOut:
    queues = settings(DeadLetterSettings)
    return _dead_letter_out(dead_letters.replay(queues.meetings_dead_letter_queue_url, queues.meetings_queue_url,
                                                message_id, tenant_id))


def openapi_json() -> str:
    # Only `make openapi` needs the OpenAPI models; importing them costs every cold start ~80 ms.
    from aws_lambda_powertools.event_handler.openapi.models import HTTPBearer

    document = json.loads(app.get_openapi_json_schema(
        title='meetbridge admin API', version='1', security_schemes={'apiKey': HTTPBearer()},
        security=[{'apiKey': []}],
    ))
    # Validation failures answer 400 (see _invalid_request), not the 422 Powertools documents by default.
    for operation in (op for path in document['paths'].values() for op in path.values()):
        operation['responses'].pop('422', None)
    for schema in ('HTTPValidationError', 'ValidationError', 'ResponseValidationError'):
        document['components']['schemas'].pop(schema, None)
    return json.dumps(document, indent=2)


def _accept_json(event: dict) -> None:
    """Only a JSON body in UTF-8 goes on to the resolver: Powertools would raise on other bytes, and on a
    content type it does not parse even when the body is empty."""
    headers = event['headers'] = event.get('headers') or {}
    content_type = headers.setdefault('content-type', 'application/json')  # every body this API takes is JSON
    if not content_type.strip().lower().startswith('application/json'):
        raise InvalidInput(f'the body must be JSON (Content-Type: application/json), not {content_type[:80]}',
                           field='content-type')
    event['body'], event['isBase64Encoded'] = text_body(APIGatewayProxyEventV2(event)), False


@config.using(AdminSettings)
@logger.inject_lambda_context
@metrics.log_metrics
@answers_errors
def lambda_handler(event: dict, context) -> dict:
    # Every route is a tenant's: the key and its role are checked before anything else, the body included.
    request = APIGatewayProxyEventV2(event)
    caller = tenants.authenticate(request.path_parameters.get('tenant_id', ''), request.headers.get('authorization'))
    keys.authorize(caller, request.request_context.http.method, request.raw_path)
    if request.body or 'content-type' in request.headers:
        _accept_json(event)
    app.append_context(caller=caller)
    return app.resolve(event, context)
