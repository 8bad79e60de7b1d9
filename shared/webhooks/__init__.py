"""Webhooks: the subscriptions a caller makes (``subscriptions``) and the delivery of the
events the change log queued for them (``delivery``)."""
