"""The features of the bot, in the order of the command menus and /help. Each declares its
commands and buttons at its end (`COMMANDS`, `BUTTONS`) and its forms when imported; the core
reads them from here (`handlers.core.commands.registry`), so a feature not listed here does not
exist for the bot."""

from __future__ import annotations

from handlers.admin import (
    admins,
    audit,
    broadcast,
    campaigns,
    commendations,
    conferences,
    coordinators,
    fields,
    importing,
    questions,
    statistics,
    unit_edit,
    units,
    yearend,
)
from handlers.coordinator import (
    answers,
    digest,
    export,
    followup,
    invites,
    join_requests,
    photos,
    reading,
    review,
)
from handlers.core import basics
from handlers.core.commands import Registry
from handlers.member import (
    consent,
    erase,
    linking,
    models,
    mydata,
    onboarding,
    registration,
    reminders,
    reports,
)

FEATURES = (
    # everyone, and members
    onboarding,
    consent,
    basics,
    registration,
    models,
    reports,
    reminders,
    linking,
    mydata,
    erase,
    # coordinators (and admins)
    review,
    followup,
    reading,
    export,
    photos,
    digest,
    answers,
    join_requests,
    invites,
    # admins
    statistics,
    yearend,
    commendations,
    conferences,
    audit,
    importing,
    units,
    unit_edit,
    coordinators,
    admins,
    fields,
    campaigns,
    questions,
    broadcast,
)
REGISTRY = Registry(FEATURES)
