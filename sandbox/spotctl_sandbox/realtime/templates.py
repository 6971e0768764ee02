"""Notification templates with i18n (en, de, fr): a kind names a template, `data` fills it.

A kind without a template sends the caller's title/body unchanged; a template missing a placeholder
falls back to the caller's text instead of failing the notification.
"""

from __future__ import annotations

from typing import Any

TEMPLATES: dict[str, dict[str, tuple[str, str]]] = {
    "new_follower": {
        "en": ("New follower", "{follower} started following you"),
        "de": ("Neuer Follower", "{follower} folgt dir jetzt"),
        "fr": ("Nouvel abonné", "{follower} vous suit désormais"),
    },
    "playlist_shared": {
        "en": ("Playlist shared", "{owner} shared the playlist {playlist} with you"),
        "de": ("Playlist geteilt", "{owner} hat die Playlist {playlist} mit dir geteilt"),
        "fr": ("Playlist partagée", "{owner} a partagé la playlist {playlist} avec vous"),
    },
    "song_added": {
        "en": ("New song added", "{user} added {song} to {playlist}"),
        "de": ("Neuer Song", "{user} hat {song} zu {playlist} hinzugefügt"),
        "fr": ("Nouvelle chanson", "{user} a ajouté {song} à {playlist}"),
    },
    "listening_invite": {
        "en": ("Listen together", "{host} invites you to a listening session"),
        "de": ("Gemeinsam hören", "{host} lädt dich zu einer Hörsession ein"),
        "fr": ("Écouter ensemble", "{host} vous invite à une session d'écoute"),
    },
    "daily_report": {
        "en": ("Your daily report", "Your report for {day} is ready"),
        "de": ("Dein Tagesbericht", "Dein Bericht für {day} ist fertig"),
        "fr": ("Votre rapport quotidien", "Votre rapport du {day} est prêt"),
    },
}


def render(kind: str, locale: str, title: str, body: str, data: dict[str, Any] | None) -> tuple[str, str]:
    variants = TEMPLATES.get(kind)
    if variants is None:
        return title, body
    t_title, t_body = variants.get(locale, variants["en"])
    try:
        return t_title.format(**(data or {})), t_body.format(**(data or {}))
    except (KeyError, IndexError, ValueError):
        return title, body
