"""The alerts to a tenant's admin contacts: in English only, by email only."""

# Alerts to the admin contacts: the account they are about (when there is one) and the list of alerts,
# in {{ }} form (their variables have no bracket form). Never a join link or a secret.
_ALERT_ACCOUNT = ('{% if account_type %}<p>Account: {{ account_type }}'
                  '{% if account_connected_as %}, connected as {{ account_connected_as }}{% endif %}'
                  '{% if account_slot %} ({{ account_slot }}){% endif %}</p>{% endif %}')
_ALERT_LIST = ('<ul>{% for alert in alerts %}<li>{{ alert.time }}: {{ alert.kind }}'
               '{% if alert.booking_id %}, booking {{ alert.booking_id }}{% endif %}'
               '{% if alert.problem %}: {{ alert.problem }}{% endif %}</li>{% endfor %}</ul>'
               '{% if more_alerts %}<p>and {{ more_alerts }} more.</p>{% endif %}')
_ALERT_FOOTER = '<p style="color:#666;font-size:12px">{{ company_name }}</p>'


def _alert(subject: str, opening: str, advice: str) -> tuple[str, str]:
    return subject, f'<p>{opening}</p>' + _ALERT_ACCOUNT + _ALERT_LIST + f'<p>{advice}</p>' + _ALERT_FOOTER


ALERTS: dict[str, tuple[str, str]] = {
    'alert_connection_broken': _alert(
        'Alert: a meeting account stopped working{% if alerts|length > 1 %} ({{ alerts|length }} alerts){% endif %}',
        'A meeting account of {{ company_name }} stopped working.',
        'Connect it again; until then its meetings cannot be made or changed through it.'),
    'alert_connection_expiring': _alert(
        'Alert: a meeting account will stop working{% if alerts|length > 1 %} ({{ alerts|length }} alerts){% endif %}',
        'A meeting account of {{ company_name }} will stop working unless it is connected again.',
        'Connect it again before it expires.'),
    'alert_meeting_failed': _alert(
        'Alert: a meeting could not be made{% if alerts|length > 1 %} ({{ alerts|length }} alerts){% endif %}',
        'A booking of {{ company_name }} has no working meeting.',
        'A booking that failed for lack of a usable account gets its meeting as soon as one is connected; its client '
        'has not been told.'),
    'alert_booking_problem': _alert(
        'Alert: a booking needs a look{% if alerts|length > 1 %} ({{ alerts|length }} alerts){% endif %}',
        'A booking of {{ company_name }} has its meeting, but not where it should be.',
        'Its join links are unchanged.'),
    'alert_accounts_reconciled': _alert(
        'Alert: future meetings were moved{% if alerts|length > 1 %} ({{ alerts|length }} alerts){% endif %}',
        'The future meetings of a meeting account of {{ company_name }} were moved to the next account.',
        'Their join links are unchanged; those that failed need a look.'),
}
