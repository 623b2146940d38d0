"""Third-party providers load through the `byosms.providers` entry-point group."""

from __future__ import annotations

import importlib.metadata
import sys
import types

import pytest

from byosms.providers import base
from byosms.providers.base import ENTRY_POINT_GROUP, ProviderLoadError, load_provider, provider_factories


class AcmeProvider:
    provider_name = "acme"

    def __init__(self, config, *, integration_id, on_event=None, on_submit_result=None, on_receipt=None, on_mo=None, on_opt_out=None):
        self.config = config
        self.integration_id = integration_id
        self.active = True

    @staticmethod
    def decode_config(data):
        return dict(data)

    async def run(self, *, task_status=None): ...
    async def submit(self, message): return []
    async def check_number(self, number): return base.NumberCheck(status="found", number=number)
    def callback_urls(self): return base.CallbackUrls(inbound="https://gw/vendors/v1/acme/x/mo")
    async def handle_webhook(self, request): return base.WebhookResponse()


@pytest.fixture
def plugin(monkeypatch):
    module = types.ModuleType("acme_sms_plugin")
    module.AcmeProvider = AcmeProvider
    module.broken = None
    monkeypatch.setitem(sys.modules, "acme_sms_plugin", module)
    eps = importlib.metadata.EntryPoints(
        [
            importlib.metadata.EntryPoint("acme", "acme_sms_plugin:AcmeProvider", ENTRY_POINT_GROUP),
            importlib.metadata.EntryPoint("missing", "no_such_module_xyz:Factory", ENTRY_POINT_GROUP),
            importlib.metadata.EntryPoint("twilio", "acme_sms_plugin:AcmeProvider", ENTRY_POINT_GROUP),
            importlib.metadata.EntryPoint("other", "acme_sms_plugin:AcmeProvider", "some.other.group"),
        ]
    )

    def entry_points(**params):
        return eps.select(**params)

    monkeypatch.setattr(importlib.metadata, "entry_points", entry_points)


def test_plugin_loads_and_is_a_provider(plugin):
    factory = load_provider("acme")
    assert factory is AcmeProvider
    p = factory(factory.decode_config({"k": 1}), integration_id="i1")
    assert isinstance(p, base.Provider)
    assert p.config == {"k": 1}


def test_builtin_wins_and_twilio_is_builtin(plugin):
    from byosms.providers.twilio import TwilioIntegration

    assert load_provider("twilio") is TwilioIntegration
    cfg = TwilioIntegration.decode_config(
        {"account_sid": "AC" + "0" * 32, "auth_token": "t", "public_base_url": "https://gw.example.com"}
    )
    assert cfg.api_base == "https://api.twilio.com"


def test_errors(plugin):
    with pytest.raises(ProviderLoadError, match="no provider named 'other'"):
        load_provider("other")  # registered in another group
    with pytest.raises(ProviderLoadError, match="failed to load"):
        load_provider("missing")
    assert {"acme", "missing", "twilio"} <= set(provider_factories())


def test_without_plugins(monkeypatch):
    monkeypatch.setattr(importlib.metadata, "entry_points", lambda **p: importlib.metadata.EntryPoints([]))
    assert set(provider_factories()) == {"smpp", "twilio", "infobip", "telesign", "linkmobility",
                                         "vibes"}
    with pytest.raises(ProviderLoadError,
                       match="known: smpp, twilio, infobip, telesign, linkmobility, vibes"):
        load_provider("acme")


def test_smpp_and_twilio_are_registered_like_plugins():
    from byosms.providers import registry
    from byosms.providers.smpp.supervisor import SmppIntegration

    smpp, twilio = registry.spec("smpp"), registry.spec("twilio")
    assert smpp.capabilities.segments == "gateway" and smpp.capabilities.batch_submit
    assert smpp.capabilities.max_per_business_unit == 10
    assert twilio.capabilities.segments == "provider" and twilio.capabilities.number_check
    assert smpp.secret_fields == {"password", "client_key_pem"} and twilio.secret_fields == {"auth_token"}
    cfg = smpp.decode_config({"host": "smsc.example.com", "system_id": "a", "password": "p"})
    adapter = smpp.build(cfg, integration_id="i1", callbacks={})
    assert isinstance(adapter, SmppIntegration) and isinstance(adapter, base.Provider)
    assert adapter.max_in_flight == cfg.binds * cfg.window
    urls = twilio.callback_urls("i 1", {"public_base_url": "https://gw.example.com/p/"})
    assert urls.inbound == "https://gw.example.com/p/vendors/v1/twilio/i%201/mo"
    assert urls.status == "https://gw.example.com/p/vendors/v1/twilio/i%201/status"
    assert smpp.callback_urls("i1", {}) is None
    with pytest.raises(base.ConfigInvalid, match="port"):
        smpp.decode_config({"host": "h", "system_id": "a", "password": "p", "port": 0})
