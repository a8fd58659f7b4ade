"""The built-in French templates: a business writing to its client (vouvoiement), and plain notices to its providers.

The text messages keep to GSM-7 (no â, ê, î, ô, û, ç, œ nor typographic apostrophe) so that they count 160
characters a segment, not 70.
"""

# A booking's provider may have no name (a platform that sends none): the client's messages then leave it out.
_WITH_PROVIDER = '{% if provider_name %} avec [provider_name]{% endif %}'
_FOOTER = '<p style="color:#666;font-size:12px">[company_name]</p>'
_ROOM_DETAILS = ('{% if online_meeting_password %}<p>Mot de passe : [online_meeting_password]</p>{% endif %}'
                 '{% if online_meeting_description %}<p>[online_meeting_description]</p>{% endif %}')
_CLIENT_LINK = ('{% if online_meeting_link_hidden %}<p>[online_meeting_link]</p>{% else %}'
                '<p><a href="[online_meeting_link]">Rejoindre le rendez-vous</a><br>[online_meeting_link]</p>'
                '{% endif %}')
_PROVIDER_LINK = ('<p><a href="[online_meeting_provider_link]">Démarrer la réunion</a><br>'
                  '[online_meeting_provider_link]</p>')
_WAITING_PAGE = "<p>Jusqu'à l'heure du rendez-vous, le lien ouvre une page d'attente.</p>"
_EARLY_START = "<p>Vous pouvez ouvrir la réunion en avance pour commencer avant l'heure prévue.</p>"

EMAIL: dict[str, tuple[str, str]] = {
    'client_created': (
        'Votre rendez-vous en ligne : [service_name] le [start_date]',
        '<p>Bonjour [client_name],</p>'
        '<p>Votre rendez-vous en ligne <b>[service_name]</b>' + _WITH_PROVIDER + ' est bien réservé pour le '
        '<b>[start_time]</b> ([timezone]).</p>'
        + _CLIENT_LINK + _ROOM_DETAILS + _WAITING_PAGE + '<p>À bientôt,</p>' + _FOOTER,
    ),
    'client_rescheduled': (
        'Rendez-vous déplacé : [service_name] le [start_date]',
        '<p>Bonjour [client_name],</p>'
        '<p>Votre rendez-vous en ligne <b>[service_name]</b>' + _WITH_PROVIDER + ' a été déplacé au '
        '<b>[start_time]</b> ([timezone]). Votre lien reste le même :</p>'
        + _CLIENT_LINK + _ROOM_DETAILS + '<p>À bientôt,</p>' + _FOOTER,
    ),
    'client_cancelled': (
        'Rendez-vous annulé : [service_name] le [start_date]',
        '<p>Bonjour [client_name],</p>'
        '<p>Votre rendez-vous en ligne <b>[service_name]</b>' + _WITH_PROVIDER + ', prévu le [start_time] '
        '([timezone]), a été annulé. Son lien ne donne plus accès à la réunion.</p>'
        '<p>Cordialement,</p>' + _FOOTER,
    ),
    'in_person_client': (
        'Rendez-vous en présentiel : [service_name] le [start_date]',
        '<p>Bonjour [client_name],</p>'
        '<p>Votre rendez-vous <b>[service_name]</b>' + _WITH_PROVIDER + ', prévu le <b>[start_time]</b> '
        '([timezone]), aura finalement lieu en présentiel et non plus en ligne. Le lien que vous aviez reçu ne '
        "mène plus à une réunion en ligne : en l'ouvrant, vous verrez un message qui vous l'indique.</p>"
        '<p>Cordialement,</p>' + _FOOTER,
    ),
    'starting_client': (
        'Votre rendez-vous commence : [service_name]',
        '<p>Bonjour [client_name],</p>'
        '<p>Votre rendez-vous en ligne <b>[service_name]</b>' + _WITH_PROVIDER + ' commence maintenant.</p>'
        + _CLIENT_LINK + _ROOM_DETAILS + _FOOTER,
    ),
    'reminder_client': (
        'Rappel : [service_name] le [start_date]',
        '<p>Bonjour [client_name],</p>'
        '<p>Nous vous rappelons votre rendez-vous en ligne <b>[service_name]</b>' + _WITH_PROVIDER + ', le '
        '<b>[start_time]</b> ([timezone]).</p>'
        + _CLIENT_LINK + _ROOM_DETAILS + _WAITING_PAGE + '<p>À bientôt,</p>' + _FOOTER,
    ),
    'details_changed_client': (
        'Nouvelles informations de connexion : [service_name] le [start_date]',
        '<p>Bonjour [client_name],</p>'
        '<p>Votre rendez-vous en ligne <b>[service_name]</b>' + _WITH_PROVIDER + ', prévu le <b>[start_time]</b> '
        '([timezone]), se tiendra dans une autre salle de réunion. Votre lien reste le même :</p>'
        + _CLIENT_LINK + _ROOM_DETAILS
        + "<p>Merci de vous fier aux informations ci-dessus plutôt qu'à celles reçues précédemment.</p>"
        '<p>Cordialement,</p>' + _FOOTER,
    ),
    'provider_created': (
        'Nouvelle réservation en ligne : [service_name] avec [client_name] le [start_date]',
        '<p>Bonjour [provider_name],</p>'
        '<p>[client_name] ([client_email]) a réservé un rendez-vous <b>[service_name]</b> pour le <b>[start_time]</b> '
        '([timezone]).</p>'
        + _PROVIDER_LINK + _ROOM_DETAILS + _EARLY_START + _FOOTER,
    ),
    'provider_rescheduled': (
        'Réservation déplacée : [service_name] avec [client_name] le [start_date]',
        '<p>Bonjour [provider_name],</p>'
        '<p>Le rendez-vous <b>[service_name]</b> de [client_name] a été déplacé au <b>[start_time]</b> '
        '([timezone]).</p>'
        + _PROVIDER_LINK + _ROOM_DETAILS + _FOOTER,
    ),
    'provider_cancelled': (
        'Annulation : [service_name] avec [client_name] le [start_date]',
        '<p>Bonjour [provider_name],</p>'
        '<p>[client_name] a annulé son rendez-vous <b>[service_name]</b> du [start_time] ([timezone]).</p>'
        + _FOOTER,
    ),
    'in_person_provider': (
        'En présentiel : [service_name] avec [client_name] le [start_date]',
        '<p>Bonjour [provider_name],</p>'
        '<p>Le rendez-vous <b>[service_name]</b> avec [client_name] du <b>[start_time]</b> ([timezone]) aura '
        'désormais lieu en présentiel ; la réunion en ligne a été supprimée.</p>' + _FOOTER,
    ),
    'starting_provider': (
        'Début du rendez-vous : [service_name] avec [client_name]',
        '<p>Bonjour [provider_name],</p>'
        '<p>Le rendez-vous <b>[service_name]</b> avec [client_name] commence maintenant.</p>'
        + _PROVIDER_LINK + _ROOM_DETAILS + _FOOTER,
    ),
    'reminder_provider': (
        'Rappel : [service_name] avec [client_name] le [start_date]',
        '<p>Bonjour [provider_name],</p>'
        '<p>Pour rappel, vous avez rendez-vous avec [client_name] pour <b>[service_name]</b> le <b>[start_time]</b> '
        '([timezone]).</p>'
        + _PROVIDER_LINK + _ROOM_DETAILS + _EARLY_START + _FOOTER,
    ),
    'details_changed_provider': (
        'Nouvelles informations de connexion : [service_name] avec [client_name] le [start_date]',
        '<p>Bonjour [provider_name],</p>'
        '<p>Le rendez-vous <b>[service_name]</b> avec [client_name] du <b>[start_time]</b> ([timezone]) a été '
        'déplacé dans une autre salle de réunion. Votre lien reste le même :</p>'
        + _PROVIDER_LINK + _ROOM_DETAILS
        + "<p>Utilisez les informations ci-dessus et non celles reçues auparavant.</p>" + _FOOTER,
    ),
}

HIDDEN_LINK_TEXT = 'Vous trouverez le lien pour rejoindre le rendez-vous dans votre réservation sur notre site.'

_SMS_CLIENT_LINK = ('{% if online_meeting_link_hidden %}[online_meeting_link]{% else %}Pour rejoindre le rendez-vous : '
                    '[online_meeting_link]{% endif %}'
                    '{% if online_meeting_password %} Mot de passe : [online_meeting_password]{% endif %}')
_SMS_PROVIDER_LINK = ('Pour démarrer la réunion : [online_meeting_provider_link]'
                      '{% if online_meeting_password %} Mot de passe : [online_meeting_password]{% endif %}')

SMS: dict[str, str] = {
    'client_created': '[company_name] : votre rendez-vous en ligne [service_name]' + _WITH_PROVIDER + ' est confirmé '
                      'pour le [start_time_short] ([timezone]). ' + _SMS_CLIENT_LINK,
    'client_rescheduled': '[company_name] : votre rendez-vous en ligne [service_name]' + _WITH_PROVIDER + ' est '
                          'déplacé au [start_time_short] ([timezone]). Votre lien reste valable. ' + _SMS_CLIENT_LINK,
    'client_cancelled': '[company_name] : votre rendez-vous en ligne [service_name]' + _WITH_PROVIDER + ' du '
                        '[start_time_short] ([timezone]) est annulé.',
    'in_person_client': '[company_name] : votre rendez-vous [service_name]' + _WITH_PROVIDER + ' du [start_time_short] '
                        '([timezone]) aura lieu en présentiel et non plus en ligne.',
    'starting_client': '[company_name] : votre rendez-vous en ligne [service_name]' + _WITH_PROVIDER + ' commence '
                       'maintenant. ' + _SMS_CLIENT_LINK,
    'reminder_client': '[company_name] : rappel de votre rendez-vous en ligne [service_name]' + _WITH_PROVIDER + ' le '
                       '[start_time_short] ([timezone]). ' + _SMS_CLIENT_LINK,
    'details_changed_client': '[company_name] : votre rendez-vous en ligne [service_name] du [start_time_short] '
                              '([timezone]) se tiendra dans une autre salle de réunion. Votre lien reste valable. '
                              + _SMS_CLIENT_LINK,
    'provider_created': '[company_name] : [client_name] a réservé un rendez-vous [service_name] le [start_time_short] '
                        '([timezone]). ' + _SMS_PROVIDER_LINK,
    'provider_rescheduled': '[company_name] : le rendez-vous [service_name] avec [client_name] est déplacé au '
                            '[start_time_short] ([timezone]). ' + _SMS_PROVIDER_LINK,
    'provider_cancelled': '[company_name] : [client_name] a annulé son rendez-vous [service_name] du '
                          '[start_time_short] ([timezone]).',
    'in_person_provider': '[company_name] : le rendez-vous [service_name] avec [client_name] du [start_time_short] '
                          '([timezone]) aura lieu en présentiel ; sa réunion en ligne est supprimée.',
    'starting_provider': '[company_name] : le rendez-vous [service_name] avec [client_name] commence maintenant. '
                         + _SMS_PROVIDER_LINK,
    'reminder_provider': '[company_name] : rappel, rendez-vous [service_name] avec [client_name] le '
                         '[start_time_short] ([timezone]). ' + _SMS_PROVIDER_LINK,
    'details_changed_provider': '[company_name] : le rendez-vous [service_name] avec [client_name] du '
                                '[start_time_short] ([timezone]) se tiendra dans une autre salle de réunion ; votre '
                                'lien reste valable. ' + _SMS_PROVIDER_LINK,
}
