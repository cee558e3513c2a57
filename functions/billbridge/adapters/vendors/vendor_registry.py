"""Configuration in, vendor adapters and polling sources out (the vendors' part of the composition).

The configuration is one JSON object keyed by `source/vendor` (docs/adapters.md):

    {"clm/docusign": {"fields": {"contract_id": "SOW Number"}, "rate_role_prefix": "Rate/Role/"},
     "erp/xero": {"api_base_url": "https://api.xero.com/api.xro/2.0",
                  "token_url": "https://identity.xero.com/connect/token", "tenant_ids": ["..."],
                  "erp_instance": "erp-us", "sales_account_code": "200"},
     "erp/netsuite": {"api_base_url": "https://ACCOUNT.suitetalk.api.netsuite.com/services/rest",
                      "page_size": 100, "max_pages": 20, "requests_per_second": 2, "overlap_seconds": 300}}

A vendor absent from it has no adapter (its route answers 404). Secrets stay in
the webhook secrets document: `"{source}/{vendor}"` holds the webhook signing
keys, `"api:{source}/{vendor}"` the API credentials (Xero: `[client_id,
client_secret]` of a custom connection; NetSuite: `[access_token]`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from billbridge.adapters.connectors.http_transport import HttpTransport
from billbridge.adapters.connectors.oauth_client_credentials import OAuthClientCredentials
from billbridge.adapters.vendors.docusign_connect import DocuSignConnectAdapter, DocuSignFieldMap
from billbridge.adapters.vendors.kantata import KantataActualsPolling, KantataMapping
from billbridge.adapters.vendors.netsuite import NetSuiteInvoicePolling
from billbridge.adapters.vendors.netsuite_oauth import MachineCredentials, NetSuiteMachineToMachineToken
from billbridge.adapters.vendors.salesforce import (
    API_VERSION as SALESFORCE_API_VERSION,
)
from billbridge.adapters.vendors.salesforce import (
    SalesforceAccountFields,
    SalesforceAccountPolling,
    SalesforceClientCredentials,
)
from billbridge.adapters.vendors.vendor_api_client import AccessToken, CallBudget, StaticToken, VendorApiClient
from billbridge.adapters.vendors.xero import REQUESTS_PER_SECOND, XeroWebhookAdapter
from billbridge.adapters.vendors.xero_invoices import CREATE_INVOICE, DEFAULT_SALES_ACCOUNT, XeroInvoiceConnector
from billbridge.app.poll_vendor_source import PollLimits
from billbridge.app.ports import Connector, WebhookSecrets
from billbridge.app.vendor_adapters import PollingSource, VendorWebhookAdapter
from billbridge.settings import VendorConfigurationError
from billbridge.settings import read_vendor_configuration as read_configuration

__all__ = ["VendorConfigurationError", "VendorRegistry", "api_secrets_key", "read_configuration"]

XERO_TOKEN_URL = "https://identity.xero.com/connect/token"
XERO_SCOPES = ("accounting.transactions.read",)
XERO_WEBHOOK_BUDGET = CallBudget(max_attempts=3, max_wait_seconds=5.0, timeout_seconds=4.0)
"""Xero's fetch happens inside the webhook call (15 s function timeout, Xero waits 5 s and retries):
a longer wait answers 503 and Xero delivers again."""
SALESFORCE_REQUESTS_PER_SECOND = 2.0
"""Salesforce counts API requests per 24 hours (not per second): a poll of a few pages is gentle."""
KANTATA_REQUESTS_PER_SECOND = 2.0
"""Kantata documents a 429 past its limit without a figure: one request at a time, gently paced."""
NETSUITE_REQUESTS_PER_SECOND = 5.0
"""One request at a time (NetSuite governs concurrency, not a rate), paced to leave the
account's other integrations their share."""


def api_secrets_key(name: str) -> str:
    return f"api:{name}"


@dataclass(frozen=True, slots=True)
class PollingSetup:
    source: PollingSource
    limits: PollLimits


class VendorRegistry:
    def __init__(
        self,
        configuration: Mapping[str, Mapping[str, Any]],
        *,
        secrets: WebhookSecrets,
        transport: HttpTransport,
        sleep: Callable[[float], None] | None = None,
        clock: Callable[[], float] | None = None,
    ) -> None:
        self._config = configuration
        self._secrets = secrets
        self._transport = transport
        self._sleep = sleep
        self._clock = clock

    def webhook_adapters(self) -> dict[tuple[str, str], VendorWebhookAdapter]:
        adapters: dict[tuple[str, str], VendorWebhookAdapter] = {}
        if "clm/docusign" in self._config:
            try:
                fields = DocuSignFieldMap.from_config(self._config["clm/docusign"])
            except ValueError as error:
                raise VendorConfigurationError(str(error)) from None
            adapters[("clm", "docusign")] = DocuSignConnectAdapter(fields)
        if "erp/xero" in self._config:
            settings = self._config["erp/xero"]
            client = self._client(
                "erp/xero",
                settings,
                default_rate=REQUESTS_PER_SECOND,
                token=self._xero_token(settings),
                budget=XERO_WEBHOOK_BUDGET,
            )
            adapters[("erp", "xero")] = XeroWebhookAdapter(client, tenant_ids=list(settings.get("tenant_ids") or []))
        return adapters

    def command_routes(self) -> dict[tuple[str, str], Connector]:
        """Outbound: `erp/xero` with an `erp_instance` raises that instance's invoices in Xero."""
        routes: dict[tuple[str, str], Connector] = {}
        settings = self._config.get("erp/xero") or {}
        instance = settings.get("erp_instance")
        if instance:
            tenants = list(settings.get("tenant_ids") or [])
            if len(tenants) != 1:
                raise VendorConfigurationError("erp/xero: an erp_instance needs exactly one tenant_ids entry")
            client = self._client(
                "erp/xero", settings, default_rate=REQUESTS_PER_SECOND, token=self._xero_token(settings)
            )
            routes[(str(instance), CREATE_INVOICE)] = XeroInvoiceConnector(
                client,
                tenant_id=tenants[0],
                account_code=str(settings.get("sales_account_code", DEFAULT_SALES_ACCOUNT)),
            )
        return routes

    def polling_sources(self) -> dict[str, PollingSetup]:
        sources: dict[str, PollingSetup] = {}
        if "erp/netsuite" in self._config:
            settings = self._config["erp/netsuite"]
            client = self._client(
                "erp/netsuite",
                settings,
                default_rate=NETSUITE_REQUESTS_PER_SECOND,
                token=self._netsuite_token(settings),
            )
            sources["erp/netsuite"] = PollingSetup(
                source=NetSuiteInvoicePolling(client, overlap_seconds=int(settings.get("overlap_seconds", 300))),
                limits=PollLimits(
                    page_size=int(settings.get("page_size", 100)),
                    max_pages=int(settings.get("max_pages", 20)),
                    max_seconds=float(settings.get("max_seconds", 240)),
                ),
            )
        if "crm/salesforce" in self._config:
            settings = self._config["crm/salesforce"]
            try:
                fields = SalesforceAccountFields.from_config(settings)
            except (TypeError, ValueError) as error:
                raise VendorConfigurationError(str(error)) from None
            instance = str(settings.get("instance_url") or "").rstrip("/")
            if not instance:
                raise VendorConfigurationError("crm/salesforce: instance_url is required")
            client = self._client(
                "crm/salesforce",
                {**settings, "api_base_url": f"{instance}/services/data/{SALESFORCE_API_VERSION}"},
                default_rate=SALESFORCE_REQUESTS_PER_SECOND,
                token=self._salesforce_token(instance),
            )
            sources["crm/salesforce"] = PollingSetup(
                source=SalesforceAccountPolling(
                    client, fields, overlap_seconds=int(settings.get("overlap_seconds", 300))
                ),
                limits=PollLimits(
                    page_size=int(settings.get("page_size", 200)),
                    max_pages=int(settings.get("max_pages", 20)),
                    max_seconds=float(settings.get("max_seconds", 240)),
                ),
            )
        if "psa/kantata" in self._config:
            settings = self._config["psa/kantata"]
            try:
                mapping = KantataMapping.from_config(settings)
            except ValueError as error:
                raise VendorConfigurationError(str(error)) from None
            client = self._client(
                "psa/kantata",
                settings,
                default_rate=KANTATA_REQUESTS_PER_SECOND,
                token=self._static_token("psa/kantata"),
            )
            sources["psa/kantata"] = PollingSetup(
                source=KantataActualsPolling(
                    client,
                    mapping,
                    overlap_seconds=int(settings.get("overlap_seconds", 300)),
                    max_window_pages=int(settings.get("max_window_pages", 50)),
                ),
                limits=PollLimits(
                    page_size=int(settings.get("page_size", 200)),
                    max_pages=int(settings.get("max_pages", 20)),
                    max_seconds=float(settings.get("max_seconds", 240)),
                ),
            )
        return sources

    def _client(
        self,
        name: str,
        settings: Mapping[str, Any],
        *,
        default_rate: float,
        token: AccessToken,
        budget: CallBudget | None = None,
    ) -> VendorApiClient:
        base_url = settings.get("api_base_url")
        if not isinstance(base_url, str) or not base_url:
            raise VendorConfigurationError(f"{name}: api_base_url is required")
        extra: dict[str, Any] = {"sleep": self._sleep} if self._sleep is not None else {}
        if self._clock is not None:
            extra["clock"] = self._clock
        if budget is not None:
            extra["budget"] = budget
        try:
            return VendorApiClient(
                vendor=name.split("/", 1)[1],
                base_url=base_url,
                transport=self._transport,
                token=token,
                requests_per_second=float(settings.get("requests_per_second", default_rate)),
                **extra,
            )
        except ValueError as error:
            raise VendorConfigurationError(f"{name}: {error}") from None

    def _credentials(self, name: str) -> list[str]:
        return self._secrets.active_secrets(api_secrets_key(name))

    def _static_token(self, name: str) -> AccessToken:
        registry = self

        class _SecretToken:
            def token(self) -> str:
                values = registry._credentials(name)
                if not values:
                    raise VendorConfigurationError(f"no API token in the secret at {api_secrets_key(name)!r}")
                return StaticToken(values[0]).token()

            def invalidate(self) -> None:
                return None

        return _SecretToken()

    def _salesforce_token(self, instance_url: str) -> AccessToken:
        def credentials() -> tuple[str, str]:
            values = self._credentials("crm/salesforce")
            if len(values) < 2:
                raise VendorConfigurationError("the secret at 'api:crm/salesforce' must be [client_id, client_secret]")
            return values[0], values[1]

        try:
            return SalesforceClientCredentials(
                token_url=f"{instance_url}/services/oauth2/token", credentials=credentials, transport=self._transport
            )
        except ValueError as error:
            raise VendorConfigurationError(f"crm/salesforce: {error}") from None

    def _netsuite_token(self, settings: Mapping[str, Any]) -> AccessToken:
        """NetSuite's OAuth 2.0 client credentials (M2M): the secret holds the client id, the
        Certificate ID and the certificate's private key, read at each token request."""
        base_url = str(settings.get("api_base_url") or "").rstrip("/")
        try:
            return NetSuiteMachineToMachineToken(
                token_url=str(settings.get("token_url") or f"{base_url}/auth/oauth2/v1/token"),
                credentials=lambda: MachineCredentials.from_secret(self._credentials("erp/netsuite")),
                transport=self._transport,
                scopes=tuple(settings.get("scopes") or ("rest_webservices",)),
                algorithm=str(settings.get("algorithm", "PS256")),
            )
        except ValueError as error:
            raise VendorConfigurationError(f"erp/netsuite: {error}") from None

    def _xero_token(self, settings: Mapping[str, Any]) -> AccessToken:
        def client_secret(force: bool) -> str:
            values = self._credentials("erp/xero")
            if len(values) < 2:
                raise VendorConfigurationError("the secret at 'api:erp/xero' must be [client_id, client_secret]")
            return values[1]

        registry = self

        class _LazyXeroToken:
            """The client id is read from the secret on first use, not at composition."""

            def __init__(self) -> None:
                self._oauth: OAuthClientCredentials | None = None

            def _credentials(self) -> OAuthClientCredentials:
                if self._oauth is None:
                    values = registry._credentials("erp/xero")
                    if len(values) < 2:
                        raise VendorConfigurationError(
                            "the secret at 'api:erp/xero' must be [client_id, client_secret]"
                        )
                    self._oauth = OAuthClientCredentials(
                        token_url=str(settings.get("token_url", XERO_TOKEN_URL)),
                        client_id=values[0],
                        client_secret=client_secret,
                        transport=registry._transport,
                        scopes=tuple(settings.get("scopes") or XERO_SCOPES),
                    )
                return self._oauth

            def token(self) -> str:
                return self._credentials().token()

            def invalidate(self) -> None:
                if self._oauth is not None:
                    self._oauth.invalidate()

        return _LazyXeroToken()
