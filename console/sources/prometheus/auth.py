"""Where the Prometheus credentials are, never what they are. Kept apart from
the HTTP client so the config can name them without loading requests."""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import BaseModel, ConfigDict, model_validator

from console.sources.prometheus.profiles import ConfigError


class PrometheusAuth(BaseModel):
    """How to authenticate to Prometheus (or a proxy in front of it) and trust
    its certificate. Holds where secrets are, never the secrets."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    bearer_token_env: str | None = None
    bearer_token_file: Path | None = None  # re-read when it changes: tokens rotate
    username: str | None = None
    password_env: str | None = None
    password_file: Path | None = None
    ca_file: Path | None = None  # a CA bundle for a private CA
    client_cert_file: Path | None = None  # mTLS
    client_key_file: Path | None = None
    # Certificate verification stays on unless this is set, explicitly.
    insecure_skip_verify: bool = False

    @model_validator(mode="after")
    def _consistent(self):
        if self.bearer_token_env and self.bearer_token_file:
            raise ValueError("give bearer_token_env or bearer_token_file, not both")
        if self.password_env and self.password_file:
            raise ValueError("give password_env or password_file, not both")
        bearer = bool(self.bearer_token_env or self.bearer_token_file)
        password = bool(self.password_env or self.password_file)
        if bearer and (self.username or password):
            raise ValueError("give a bearer token or basic auth, not both")
        if password != bool(self.username):
            raise ValueError("basic auth needs both username and password_env/password_file")
        if self.client_key_file and not self.client_cert_file:
            raise ValueError("client_key_file needs client_cert_file")
        if self.insecure_skip_verify and self.ca_file:
            raise ValueError("give ca_file or insecure_skip_verify, not both")
        return self

    @property
    def verify(self) -> bool | str:
        if self.insecure_skip_verify:
            return False
        return str(self.ca_file) if self.ca_file else True

    @property
    def cert(self) -> str | tuple[str, str] | None:
        if not self.client_cert_file:
            return None
        if self.client_key_file:
            return str(self.client_cert_file), str(self.client_key_file)
        return str(self.client_cert_file)

    def describe(self) -> str:
        """For repr: which kind of auth, from where; never the secret."""
        if self.bearer_token_env:
            return f"bearer token from ${self.bearer_token_env}"
        if self.bearer_token_file:
            return f"bearer token from {self.bearer_token_file}"
        if self.username:
            where = f"${self.password_env}" if self.password_env else str(self.password_file)
            return f"basic auth as {self.username}, password from {where}"
        return "no auth"

    def token(self) -> str | None:
        return _secret("bearer token", self.bearer_token_env, self.bearer_token_file)

    def password(self) -> str | None:
        return _secret("password", self.password_env, self.password_file)


def _secret(what: str, env: str | None, file: Path | None) -> str | None:
    if env:
        value = os.environ.get(env, "").strip()
        if not value:
            raise ConfigError(f"{what}: environment variable {env} is not set or empty")
        return value
    if file:
        try:
            value = Path(file).read_text().strip()
        except OSError as exc:
            raise ConfigError(f"{what}: cannot read {file}: {exc.strerror}") from None
        if not value:
            raise ConfigError(f"{what}: {file} is empty")
        return value
    return None
