"""Keeping secrets out of everything factbench writes or prints.

Three kinds of secret are removed from text: the value of every variable named by
`--ROLE-api-key-env` (whatever its length), the value of any variable whose name looks
secret (KEY, TOKEN, SECRET, PASSWORD; 8 characters or more, so that `TOKENIZERS_PARALLELISM=true`
does not blank out every "true"), and credentials written into a URL (`http://user:KEY@host`).
URLs lose their userinfo part wherever they appear.
"""

from __future__ import annotations

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


def register_url_credentials(url: str) -> None:
    """Remember the user name and password inside `url` (raw and percent-decoded) as secrets."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return
    for value in (parts.username, parts.password):
        if value:
            _SECRETS.update({value, unquote(value)})


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
