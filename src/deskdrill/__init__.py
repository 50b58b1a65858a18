"""deskdrill: a support-desk ticketing sandbox for training customer-service staff."""

__version__ = "0.1.0"
