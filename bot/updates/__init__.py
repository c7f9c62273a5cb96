"""How updates are run, channel-neutral: `order` (one person's updates one at a time in the order
they came, different people's side by side, bounded) and `flood` (the rule that slows down only
the person who floods). See docs/concurrency.md."""
