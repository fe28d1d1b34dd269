"""The conversation: dialog state across turns and the grounded answers written from results."""
