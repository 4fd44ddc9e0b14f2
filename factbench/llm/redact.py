"""Keeping secrets out of everything factbench writes or prints.

Three kinds of secret are removed from text: the value of every variable named by
`--ROLE-api-key-env` (whatever its length), the value of any variable whose name looks
secret (KEY, TOKEN, SECRET, PASSWORD; 8 characters or more, so that `TOKENIZERS_PARALLELISM=true`
does not blank out every "true"), and credentials written into a URL (`http://user:KEY@host`).
URLs lose their userinfo part wherever they appear; requests to such a URL go to the URL without
it, with the user name and password sent as HTTP basic auth instead.
"""

from __future__ import annotations

import base64
import os
import re
from urllib.parse import unquote, urlsplit

_SECRET_NAME = re.compile(r"(KEY|TOKEN|SECRET|PASSWORD)", re.IGNORECASE)
# scheme://userinfo@ — userinfo ends at the first "@" before any "/", "?", "#" or space.
_USERINFO = re.compile(r"(?P<scheme>\b[A-Za-z][A-Za-z0-9+.-]*://)[^/?#\s@]*@")

_KEY_VARIABLES: set[str] = set()  # variables named by --ROLE-api-key-env, whatever their names
_SECRETS: set[str] = set()  # other secret values in use (passwords and user names from URLs)


def register_key_variable(name: str) -> None:
    """The value of this variable is a secret from now on, whatever its length."""
    _KEY_VARIABLES.add(name)


def strip_userinfo(url: str) -> str:
    """`http://user:KEY@host/v1` -> `http://host/v1`; anything else unchanged."""
    return _USERINFO.sub(r"\g<scheme>", url)


def split_credentials(url: str) -> tuple[str, dict[str, str]]:
    """(url without userinfo, headers for HTTP basic auth with it); the user name and password
    (raw and percent-decoded) become secrets that `redact` removes."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return url, {}
    if parts.username is None and parts.password is None:
        return url, {}
    user, password = unquote(parts.username or ""), unquote(parts.password or "")
    for value in (parts.username, parts.password, user, password):
        if value:
            _SECRETS.add(value)
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    _SECRETS.add(token)
    return strip_userinfo(url), {"Authorization": f"Basic {token}"}


def _secret_values() -> list[tuple[str, str]]:
    found = [(value, f"<{name}>") for name, value in os.environ.items()
             if value and (name in _KEY_VARIABLES or (len(value) >= 8 and _SECRET_NAME.search(name)))]
    found += [(value, "<redacted>") for value in _SECRETS]
    return sorted(found, key=lambda pair: -len(pair[0]))  # longest first: no partial replacement


def redact(text: str) -> str:
    """`text` without URL credentials and without the value of any secret in use."""
    text = strip_userinfo(text)
    for value, placeholder in _secret_values():
        if value in text:
            text = text.replace(value, placeholder)
    return text
