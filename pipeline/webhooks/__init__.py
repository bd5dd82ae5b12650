"""Inbound message webhooks (WhatsApp, Messenger, RCS, Google Business Messages): what each
platform posts, turned into message events; their signatures; the landing table they are kept in."""
