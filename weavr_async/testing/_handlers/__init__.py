"""The operations' handlers, one module per tag of the contract: each reads its call's
parameters (refusing what it cannot read with a 400) and applies the business rules."""
