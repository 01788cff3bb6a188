"""How every Kafka client the project runs logs in: one place turns the settings into each library's options.

Three client libraries talk to the broker (kafka-python for admin work and the CLI's producer, aiokafka for the
project's own producers and consumers, Faust over aiokafka for the worker) and each spells security differently.
The two functions here keep them in step, so a client built anywhere else with a bare address would be
the odd one out (``tests/unit/test_kafka_auth.py`` greps for that).

A :data:`Broker` is either the Kafka settings (address and credentials) or a bare ``host:port`` string, which means
PLAINTEXT: the tests and benchmarks that start a plain broker of their own pass just its address.
"""

from __future__ import annotations

import ssl
from typing import Any, TypeAlias

from crimelink.settings import KafkaSettings

__all__ = ["Broker", "address", "client_options", "faust_credentials", "login_environment", "settings_of", "tls_context"]

Broker: TypeAlias = KafkaSettings | str


def _settings(broker: Broker) -> KafkaSettings:
    return broker if isinstance(broker, KafkaSettings) else KafkaSettings(bootstrap=broker)


def settings_of(broker: Broker, **fields: Any) -> KafkaSettings:
    """``broker`` as Kafka settings, with ``fields`` changed (a run's own topic prefix, say)."""
    return _settings(broker).model_copy(update=fields)


def login_environment(broker: Broker) -> dict[str, str]:
    """The ``CRIMELINK_KAFKA_*`` variables a crimelink process started for ``broker`` needs to reach and log in to it."""
    return {"CRIMELINK_KAFKA_BOOTSTRAP": broker} if isinstance(broker, str) else broker.login_environment()


def address(broker: Broker) -> str:
    """``host:port`` for messages and for the clients' bootstrap list."""
    return broker.bootstrap if isinstance(broker, KafkaSettings) else broker


def tls_context(kafka: KafkaSettings) -> ssl.SSLContext:
    """Verifies the broker's certificate and name (against the CA file when one is set) and offers the client
    certificate when one is set. TLS 1.2 at least."""
    context = ssl.create_default_context(cafile=str(kafka.ca_file) if kafka.ca_file else None)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    if kafka.cert_file and kafka.key_file:
        context.load_cert_chain(str(kafka.cert_file), str(kafka.key_file))
    return context


def _password(kafka: KafkaSettings) -> str | None:
    return kafka.password.get_secret_value() if kafka.password else None


def client_options(broker: Broker) -> dict[str, Any]:
    """Keyword arguments for kafka-python's and aiokafka's clients alike (both take these same names): the
    bootstrap list, the protocol, the SASL login and the TLS context."""
    kafka = _settings(broker)
    options: dict[str, Any] = {"bootstrap_servers": kafka.bootstrap, "security_protocol": kafka.security_protocol}
    if kafka.uses_sasl:
        options |= {"sasl_mechanism": kafka.sasl_mechanism, "sasl_plain_username": kafka.username,
                    "sasl_plain_password": _password(kafka)}
    if kafka.uses_tls:
        options["ssl_context"] = tls_context(kafka)
    return options


def faust_credentials(broker: Broker) -> Any:
    """Faust's ``broker_credentials`` (None for PLAINTEXT); Faust hands them to every aiokafka client it makes."""
    import faust  # the worker's import, not the CLI's
    from faust.types.auth import AuthProtocol, SASLMechanism

    kafka = _settings(broker)
    if kafka.uses_sasl:
        return faust.SASLCredentials(username=kafka.username, password=_password(kafka),
                                     ssl_context=tls_context(kafka) if kafka.uses_tls else None,
                                     mechanism=SASLMechanism(kafka.sasl_mechanism))
    if kafka.uses_tls:
        return faust.SSLCredentials(tls_context(kafka), protocol=AuthProtocol.SSL)
    return None
