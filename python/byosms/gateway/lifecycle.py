"""Integration lifecycle: create, update, activate, deactivate, delete
(PRODUCT.md S5, S7, S9–S12, D3, D4, D7).

`IntegrationLifecycle` owns the rules; the store owns the state and the
runtime (the Gateway, which runs binds and provider adapters) owns what is
running. The lifecycle never binds anything itself: it tells the runtime to
start, stop or restart an integration, and the runtime reads the integration
(and its secrets) from the store when it does.

Rules:
- Config is validated before anything is written: the provider's config
  Struct (from the registry) and the S7 advanced configuration, each
  error naming the field (`field`: "port", or the JSON path inside the
  advanced configuration, "advanced_config.charsets[1].dcs").
- Where a configuration comes from matters (`origin`): fields naming files
  on the gateway's host (the spec's `host_path_fields`: SMPP's `ca_file`,
  `client_cert_file`, `client_key_file`) are accepted only from the
  operator's config file (`origin="config_file"`, `byosms serve`); through
  the admin API (`origin="admin_api"`, the default) they are refused, 422
  naming the field and the content field to use instead (`ca_pem`, ...),
  so that a tenant can neither probe the host's files nor use another
  tenant's client key.
- What is stored is what the caller gave (defaults stay implicit, so a later
  release's better default reaches old integrations); top-level secrets are
  `Secret`s, which the store encrypts.
- S11: at most `Capabilities.max_per_business_unit` live integrations of a
  provider per unit (SMPP: 10).
- S9: changing the config of an active integration restarts it (re-bind).
  The runtime reads the configuration when it starts, so every config change
  needs it, not only credentials and connection; a rename does not.
- S12 deactivate: the store state goes inactive first (no more segments are
  claimed: outbound stays queued), then the runtime stops (binds closed: an
  SMSC keeps the inbound for us; Twilio's adapter drops webhooks, T4). The
  numbers are disabled by derivation — a number is usable when it is enabled
  AND its integration is active — rather than by flipping each number's
  `enabled` flag: re-activation then restores exactly the numbers the operator
  had enabled, and sends meanwhile still queue instead of being refused.
- S12 delete: the runtime stops first (so no submit is in flight), then the
  store removes the numbers and secrets and fails queued segments with cause
  `integration_deleted`.
- Every change is an `operational` event for the owning business unit (S17),
  naming changed fields but never values.
- Another unit's integration is `IntegrationNotFound`, like a missing one (D4).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, ClassVar, Literal, Protocol

import msgspec
import trio

from byosms.advanced_config import AdvancedConfigError, load_advanced_config
from byosms.pipeline import CallbackUrls
from byosms.providers import registry
from byosms.providers.base import ConfigInvalid, ProviderLoadError, ProviderSpec
from byosms.schemas.events import OperationalEvent
from byosms.schemas.records import Integration, NewEvent
from byosms.secret import Secret, dec_hook

#: Who gives a configuration: a business unit's API key through the admin
#: API, or the operator through the config file `byosms serve` reads.
Origin = Literal["admin_api", "config_file"]
ORIGINS = ("admin_api", "config_file")

#: Names are labels in lists and the websocket API's `integration` reference.
NAME_MAX = 100
MASK = "********"

_AT = re.compile(r"- at `\$\.?([^`]*)`")
_TICKED = re.compile(r"`([A-Za-z_][A-Za-z0-9_]*)`")


# --- errors ----------------------------------------------------------------------


class LifecycleError(Exception):
    """A refused lifecycle operation. `code` is stable; `status` is the HTTP
    status the admin API answers with; `field` names the bad input, if any."""

    code: ClassVar[str] = "lifecycle_error"
    status: ClassVar[int] = 400

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class InvalidConfig(LifecycleError):
    code = "invalid_config"
    status = 422


class InvalidAdvancedConfig(InvalidConfig):
    """S7: `field` is "advanced_config" + the JSON path at fault."""

    code = "invalid_advanced_config"


class UnsupportedProvider(LifecycleError):
    code = "unsupported_provider"
    status = 422


class SmppIntegrationLimit(LifecycleError):
    code = "smpp_integration_limit"
    status = 409


class NameTaken(LifecycleError):
    code = "name_taken"
    status = 409


class IntegrationNotFound(LifecycleError):
    """Unknown, deleted, or another unit's (indistinguishable on purpose, D4)."""

    code = "integration_not_found"
    status = 404


class RuntimeFailed(LifecycleError):
    """The runtime refused to start the integration (not a bind failure:
    those arrive later as operational events, S10)."""

    code = "runtime_failed"
    status = 502


# --- the runtime the Gateway implements ------------------------------------------


class IntegrationRuntime(Protocol):
    """What runs integrations. `start` returns once the integration is
    running (binds may still be connecting: their failures are operational
    events, S10); `stop` once its binds are closed; `restart` re-reads the
    configuration and re-binds. All three are idempotent."""

    async def start(self, integration_id: str) -> None: ...

    async def stop(self, integration_id: str) -> None: ...

    async def restart(self, integration_id: str) -> None: ...

    def bind_addresses(self, integration_id: str) -> list[str]:
        """S16: local addresses of the integration's connected binds."""
        ...


# --- results ---------------------------------------------------------------------


class IntegrationInfo(msgspec.Struct, frozen=True, kw_only=True):
    """An integration as the lifecycle reports it: the store record (no
    secrets in it), where the provider must call us (D3; None for SMPP), the
    configuration warnings (S1, S5), and whether this call restarted it."""

    integration: Integration
    callback_urls: CallbackUrls | None = None
    warnings: tuple[str, ...] = ()
    restarted: bool = False
    changed: tuple[str, ...] = ()

    def public_config(self) -> dict[str, Any]:
        """The stored configuration with every secret field masked (D4, S9)."""
        return public_config(self.integration)


def public_config(integration: Integration) -> dict[str, Any]:
    out = dict(integration.config)
    for name in integration.secret_fields:
        out[name] = MASK
    return out


def _field_of(e: Exception) -> str | None:
    text = str(e)
    m = _AT.search(text)
    if m:
        return m.group(1) or None
    m = _TICKED.search(text)
    return m.group(1) if m else None


def _plain(config: Mapping[str, Any]) -> dict[str, Any]:
    """Secrets revealed, for decoding (the decoders build `Secret`s from str)."""
    return {k: v.reveal() if isinstance(v, Secret) else v for k, v in config.items()}


def provider_spec(provider: str) -> ProviderSpec:
    """The registry's spec of ``provider``; UnsupportedProvider naming the
    known ones (or why a plug-in did not load)."""
    try:
        return registry.spec(provider)
    except ProviderLoadError as e:
        raise UnsupportedProvider(str(e), field="provider") from None


def check_origin(spec: ProviderSpec, given: Mapping[str, Any], origin: Origin) -> None:
    """Refuse what ``origin`` may not set: host paths through the admin API
    (a key set to None, which removes the field, is allowed)."""
    if origin not in ORIGINS:
        raise ValueError(f"origin must be one of {ORIGINS}, got {origin!r}")
    if origin == "config_file":
        return
    for name, instead in spec.host_path_fields.items():
        if given.get(name) is not None:
            hint = f"; give the content as `{instead}`" if instead else ""
            raise InvalidConfig(
                f"`{name}` names a file on the gateway's host, which only the operator's "
                f"config file may set{hint}", field=name)


def validate_config(provider: str, config: Mapping[str, Any], *,
                    origin: Origin = "admin_api",
                    given: Mapping[str, Any] | None = None) -> tuple[Any, list[str]]:
    """Decode and validate one provider configuration, its advanced
    configuration included. Returns (the decoded Struct, warnings).
    ``origin``: who gives it (see the module docstring); ``given``: the
    part the caller gave now, when ``config`` also holds stored values (an
    update): only that part is checked against the origin."""
    spec = provider_spec(provider)
    if not isinstance(config, Mapping):
        raise InvalidConfig("config must be an object", field="config")
    check_origin(spec, config if given is None else given, origin)
    try:
        decoded = spec.decode_config(_plain(config))
    except ConfigInvalid as e:
        raise InvalidConfig(f"{provider} config: {e}", field=_field_of(e)) from None
    warn = getattr(decoded, "warnings", None)
    warnings = list(warn()) if callable(warn) else []
    if spec.advanced_defaults is not None:
        try:
            load_advanced_config(getattr(decoded, "advanced_config", None),
                                 defaults=spec.advanced_defaults)
        except AdvancedConfigError as e:
            field = "advanced_config" + e.path[1:]
            # str(e) is "$.path: problem"; name it as the caller wrote it.
            raise InvalidAdvancedConfig("advanced_config" + str(e)[1:], field=field) from None
    return decoded, warnings


def _to_store(decoded: Any, given: Mapping[str, Any]) -> dict[str, Any]:
    """The keys the caller gave, as validated; secret fields as `Secret`."""
    out: dict[str, Any] = {}
    for key in given:
        value = getattr(decoded, key)
        out[key] = value
    return out


def callback_urls(integration: Integration) -> CallbackUrls | None:
    """D3: where an HTTP provider must send inbound messages and reports
    (the provider's spec builds them); None for providers without webhooks
    (SMPP: the SMSC sends deliver_sm over our binds)."""
    try:
        spec = registry.spec(integration.provider)
    except ProviderLoadError:
        return None
    return spec.callback_urls(integration.id, integration.config)


def _warnings(integration: Integration) -> list[str]:
    # Secrets don't affect warnings: a placeholder keeps them out of reach
    # here. Decoded into the Struct alone: the provider's decode may check
    # a secret's content (a PEM key), which a placeholder would fail.
    cfg = {**integration.config, **{f: "x" for f in integration.secret_fields}}
    try:
        spec = provider_spec(integration.provider)
        if spec.config_type is not None:
            decoded = msgspec.convert(cfg, spec.config_type, dec_hook=dec_hook)
        else:
            decoded = spec.decode_config(cfg)
    except (LifecycleError, ConfigInvalid, msgspec.ValidationError, ValueError, TypeError):
        return []
    warn = getattr(decoded, "warnings", None)
    return list(warn()) if callable(warn) else []


# --- the lifecycle ----------------------------------------------------------------


class IntegrationLifecycle:
    """Every lifecycle operation of the admin API and CLI, for one business
    unit at a time (the caller's: an API key's unit)."""

    def __init__(self, store: Any, runtime: IntegrationRuntime) -> None:
        self._store = store
        self._runtime = runtime
        # Serialises the checks-then-writes of create/rename (the S11 cap,
        # unique names) and the state changes of one integration.
        self._lock = trio.Lock()

    @property
    def runtime(self) -> IntegrationRuntime:
        return self._runtime

    # --- reads -------------------------------------------------------------------

    async def get(self, business_unit: str, id: str) -> IntegrationInfo:
        integ = await self._own(business_unit, id)
        return self._info(integ)

    async def list(self, business_unit: str) -> list[IntegrationInfo]:
        return [self._info(i) for i in await self._store.list_integrations(business_unit)]

    def addresses(self, integration_id: str) -> list[str]:
        return list(self._runtime.bind_addresses(integration_id))

    # --- writes ------------------------------------------------------------------

    async def create(self, business_unit: str, provider: str, name: str,
                     config: Mapping[str, Any], *, activate: bool = False,
                     origin: Origin = "admin_api") -> IntegrationInfo:
        """``origin``: who gives ``config`` (host paths only from the
        operator's config file)."""
        name = self._check_name(name)
        decoded, warnings = validate_config(provider, config, origin=origin)
        async with self._lock:
            live = await self._store.list_integrations(business_unit)
            if any(i.name == name for i in live):
                raise NameTaken(f"an integration named {name!r} already exists", field="name")
            cap = provider_spec(provider).capabilities.max_per_business_unit
            if cap is not None and sum(i.provider == provider for i in live) >= cap:
                raise SmppIntegrationLimit(
                    f"a business unit has at most {cap} {provider} integrations "
                    f"(S11); delete one first")
            integ = await self._store.create_integration(
                business_unit, provider, name, _to_store(decoded, config))
        await self._event(integ, "integration_created", f"{provider} integration {name!r}")
        for w in warnings:
            await self._event(integ, "config_warning", w)
        if activate:
            integ = await self._activate(integ)
        return IntegrationInfo(integration=integ, callback_urls=callback_urls(integ),
                               warnings=tuple(warnings))

    async def update(self, business_unit: str, id: str, *, name: str | None = None,
                     config: Mapping[str, Any] | None = None,
                     origin: Origin = "admin_api") -> IntegrationInfo:
        """`config` is a patch: its keys replace the stored ones, a key set to
        None goes back to the default. Secrets it omits are kept. ``origin``:
        who gives the patch (stored host paths from the config file stay;
        the admin API cannot set new ones)."""
        async with self._lock:
            integ = await self._own(business_unit, id)
            if name is not None:
                name = self._check_name(name)
                if name != integ.name:
                    live = await self._store.list_integrations(business_unit)
                    if any(i.name == name and i.id != id for i in live):
                        raise NameTaken(f"an integration named {name!r} already exists",
                                        field="name")
                else:
                    name = None
            changed: list[str] = []
            new_config = None
            warnings: list[str] = []
            if config is not None:
                if not isinstance(config, Mapping):
                    raise InvalidConfig("config must be an object", field="config")
                secrets = await self._store.reveal_secrets(id)
                old = {**integ.config, **secrets}
                merged = dict(old)
                for k, v in config.items():
                    if v is None:
                        merged.pop(k, None)
                    else:
                        merged[k] = v
                decoded, warnings = validate_config(integ.provider, merged, origin=origin,
                                                    given=config)
                new = _to_store(decoded, merged)
                changed = sorted(k for k in set(old) | set(new) if old.get(k) != new.get(k))
                # Unchanged secrets are not re-sent: the store keeps what it has.
                new_config = {k: v for k, v in new.items()
                              if not (isinstance(v, Secret) and secrets.get(k) == v)}
                if not changed:
                    new_config = None
            if name is not None:
                changed.insert(0, "name")
            if not changed:
                return self._info(integ)
            integ = await self._store.update_integration(id, name=name, config=new_config)
        await self._event(integ, "integration_updated", "changed: " + ", ".join(changed))
        for w in warnings:
            if new_config is not None:
                await self._event(integ, "config_warning", w)
        restarted = False
        if new_config is not None and integ.state == "active":
            credentials = provider_spec(integ.provider).credential_fields
            why = ("credentials changed" if credentials & set(changed)
                   else "configuration changed")
            try:
                await self._runtime.restart(id)
            except Exception as e:  # the record is updated; say why it isn't running
                await self._event(integ, "config_error", f"restart failed: {e}")
                raise RuntimeFailed(f"updated, but the restart failed: {e}") from e
            await self._event(integ, "integration_restarted", why)
            restarted = True
        return IntegrationInfo(integration=integ, callback_urls=callback_urls(integ),
                               warnings=tuple(warnings) if new_config is not None
                               else tuple(_warnings(integ)),
                               restarted=restarted, changed=tuple(changed))

    async def activate(self, business_unit: str, id: str) -> IntegrationInfo:
        async with self._lock:
            integ = await self._own(business_unit, id)
            if integ.state != "active":
                integ = await self._activate(integ)
        return self._info(integ)

    async def _activate(self, integ: Integration) -> Integration:
        # Active in the store first: the runtime's sender tasks claim segments
        # of active integrations only.
        integ = await self._store.set_integration_state(integ.id, "active")
        try:
            await self._runtime.start(integ.id)
        except Exception as e:
            integ = await self._store.set_integration_state(integ.id, "inactive")
            await self._event(integ, "config_error", f"activation failed: {e}")
            raise RuntimeFailed(f"activation failed: {e}") from e
        await self._event(integ, "integration_activated", "")
        return integ

    async def deactivate(self, business_unit: str, id: str) -> IntegrationInfo:
        async with self._lock:
            integ = await self._own(business_unit, id)
            if integ.state == "active":
                integ = await self._store.set_integration_state(id, "inactive")
                await self._runtime.stop(id)
                await self._event(integ, "integration_deactivated",
                                  "numbers disabled; messages stay queued until re-activation")
        return self._info(integ)

    async def delete(self, business_unit: str, id: str) -> IntegrationInfo:
        async with self._lock:
            integ = await self._own(business_unit, id)
            await self._runtime.stop(id)
            integ = await self._store.set_integration_state(id, "deleted")
        await self._event(integ, "integration_deleted",
                          "numbers removed; queued messages failed (integration_deleted)")
        return IntegrationInfo(integration=integ, callback_urls=None)

    # --- helpers -----------------------------------------------------------------

    async def _own(self, business_unit: str, id: str) -> Integration:
        integ = await self._store.get_integration(id)
        if integ is None or integ.business_unit != business_unit or integ.state == "deleted":
            raise IntegrationNotFound(f"no integration {id!r}")
        return integ

    @staticmethod
    def _check_name(name: str) -> str:
        if not isinstance(name, str) or not name.strip():
            raise InvalidConfig("an integration needs a name", field="name")
        name = name.strip()
        if len(name) > NAME_MAX:
            raise InvalidConfig(f"name is longer than {NAME_MAX} characters", field="name")
        return name

    def _info(self, integ: Integration) -> IntegrationInfo:
        return IntegrationInfo(integration=integ, callback_urls=callback_urls(integ),
                               warnings=tuple(_warnings(integ)))

    async def _event(self, integ: Integration, kind: str, detail: str) -> None:
        ev = OperationalEvent(kind=kind, integration=integ.id, detail=detail)  # type: ignore[arg-type]
        await self._store.append_events(
            [NewEvent(integ.business_unit, "operational", msgspec.to_builtins(ev))])
