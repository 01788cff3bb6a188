"""Whether an incident may be referred: per-force crime-number rules, the crime-number gate and its deadline index,
and the feedback retailers get. No Kafka here."""
