"""The retailer gateway: retailers submit incidents and crime numbers over HTTP, authenticated by their token, and
get an answer per record at once (``crimelink gateway``; docs/retailer-api.md)."""

from crimelink.gateway.app import create_app

__all__ = ["create_app"]
