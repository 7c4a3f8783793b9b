"""Solution 04 - an update with a validator."""

from __future__ import annotations

from temporalio import workflow

MAX_BUDGET = 10_000


@workflow.defn(name="BudgetApproval")
class BudgetApproval:
    def __init__(self) -> None:
        self.budget = 100
        self.approved = False

    @workflow.signal
    def approve(self) -> None:
        self.approved = True

    @workflow.query
    def current_budget(self) -> int:
        return self.budget

    @workflow.update
    def set_budget(self, amount: int) -> int:
        self.budget = amount
        return self.budget

    @set_budget.validator
    def check_budget(self, amount: int) -> None:
        if amount <= 0 or amount > MAX_BUDGET:
            raise ValueError(f"budget must be between 1 and {MAX_BUDGET}, got {amount}")

    @workflow.run
    async def run(self) -> str:
        await workflow.wait_condition(lambda: self.approved)
        return f"approved with a budget of {self.budget}"
